package io.skippipe.scheduler.route;

import java.util.List;

/**
 * What a router produces: the stage lists (index = stage, position inside = pipeline) and every
 * microbatch of one iteration with its path.
 */
public record Schedule(List<List<Integer>> stages, List<Microbatch> microbatches) {
  public Schedule {
    stages = stages.stream().map(List::copyOf).toList();
    microbatches = List.copyOf(microbatches);
  }

  /** stageOf[node] for nodes 0..max listed id (-1 for a node in no stage, e.g. a lost one). */
  public int[] stageOf() {
    return stageOf(stages.stream().flatMap(List::stream).mapToInt(Integer::intValue).max()
        .orElse(-1) + 1);
  }

  /** stageOf[node] for nodes 0..n-1 (-1 for a node in no stage, e.g. a lost one). */
  public int[] stageOf(int n) {
    int[] stageOf = new int[n];
    java.util.Arrays.fill(stageOf, -1);
    for (int s = 0; s < stages.size(); s++) {
      for (int x : stages.get(s)) {
        if (x < 0 || x >= n) {
          throw new IllegalArgumentException("stage " + s + " lists node " + x + " outside 0.."
              + (n - 1));
        }
        stageOf[x] = s;
      }
    }
    return stageOf;
  }
}
