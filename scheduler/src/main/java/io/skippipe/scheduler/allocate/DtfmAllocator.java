package io.skippipe.scheduler.allocate;

import io.skippipe.scheduler.cost.CostModel;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The original DT-FM allocator's objective (spec §3.7) on the same genetic engine: data-parallel
 * cost = largest per-node sum of {@code 2·FACTOR·c} inside a stage, pipeline cost = cheapest open
 * path over the stages with bottleneck matching on raw hop costs. Stage order is kept as cut.
 */
public final class DtfmAllocator implements Allocator {
  private final GeneticAllocator engine;

  public DtfmAllocator(int population, int trials) {
    this.engine = new GeneticAllocator(population, trials, true);
  }

  @Override
  public String name() {
    return "dtfm";
  }

  @Override
  public Allocation allocate(CostModel costs, List<Integer> stageSizes, RandomGenerator rng) {
    return engine.allocate(costs, stageSizes, rng);
  }
}
