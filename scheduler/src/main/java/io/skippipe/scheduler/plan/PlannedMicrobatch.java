package io.skippipe.scheduler.plan;

import java.util.List;

/**
 * One microbatch of plan.json: injected at {@code dataNode} no earlier than {@code releaseSeconds}
 * after the iteration starts, following {@code path} (forward node sequence starting at the data
 * node; loss and backward return along it implicitly).
 */
public record PlannedMicrobatch(int id, int dataNode, double releaseSeconds, List<Integer> path) {
  public PlannedMicrobatch {
    path = path == null ? List.of() : List.copyOf(path);
  }
}
