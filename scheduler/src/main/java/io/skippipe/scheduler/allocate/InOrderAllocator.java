package io.skippipe.scheduler.allocate;

import io.skippipe.scheduler.cost.CostModel;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/** The dumb baseline: nodes 0..N-1 in id order cut into consecutive stages. */
public final class InOrderAllocator implements Allocator {
  @Override
  public String name() {
    return "in-order";
  }

  @Override
  public Allocation allocate(CostModel costs, List<Integer> stageSizes, RandomGenerator rng) {
    List<List<Integer>> stages = new ArrayList<>();
    int next = 0;
    for (int size : stageSizes) {
      List<Integer> s = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        s.add(next++);
      }
      stages.add(s);
    }
    return new Allocation(stages, Double.NaN);
  }
}
