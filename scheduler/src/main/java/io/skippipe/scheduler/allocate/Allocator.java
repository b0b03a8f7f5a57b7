package io.skippipe.scheduler.allocate;

import io.skippipe.scheduler.cost.CostModel;
import java.util.List;
import java.util.random.RandomGenerator;

/** Assigns nodes to pipeline stages (spec §3). Implementations are seeded through {@code rng}. */
public interface Allocator {
  /** Name used in config and output ("genetic", "dtfm", "in-order"). */
  String name();

  /** Splits the nodes of the cost model into stages of the given sizes, pipeline-aligned. */
  Allocation allocate(CostModel costs, List<Integer> stageSizes, RandomGenerator rng);
}
