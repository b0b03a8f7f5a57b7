package io.skippipe.scheduler.allocate;

import java.util.List;

/**
 * Nodes per pipeline stage: {@code stages.get(s)} lists the nodes of stage s, and position j in
 * every list is pipeline j (the full-pipeline baseline sends pipeline j's microbatches along
 * {@code stages.get(0).get(j) → stages.get(1).get(j) → ...}). {@code score} is the allocator's
 * own fitness (lower is better; NaN when it has none).
 */
public record Allocation(List<List<Integer>> stages, double score) {
  public Allocation {
    stages = stages.stream().map(List::copyOf).toList();
  }
}
