package io.skippipe.model.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The stage paths SkipPipe's convergence rules allow (SkipPipe, arXiv 2502.19913; rules as the
 * authors' A* enforces them, reference/skippipe-spec.md §2.1): a path starts at stage 0, visits
 * exactly {@code pathLength} distinct stages (CC-b, CC-c); with the frontier the highest stage
 * visited so far, a hop to a lower stage is a swap of distance {@code frontier - stage}, and at
 * most {@code maxSwaps} swaps, each of distance at most {@code maxSwapDistance}, with total
 * distance at most {@code maxTotalSwapDistance} are allowed (CC-d); a hop goes at most
 * {@code maxJump} above the frontier (CC-e). The convergence benchmark draws one valid path per
 * microbatch uniformly with a seeded generator, as the paper's skip-training simulation assigns
 * scheduled paths to microbatches without modelling the network.
 */
final class SkipPaths {
  private SkipPaths() {}

  /** Every valid path, in lexicographic order. */
  static List<int[]> enumerate(int stages, int pathLength, int maxSwaps, int maxSwapDistance,
      int maxTotalSwapDistance, int maxJump) {
    if (pathLength < 1 || pathLength > stages) {
      throw new IllegalArgumentException("path length " + pathLength + " must be in [1, "
          + stages + "] (stage 0 plus the stages visited)");
    }
    List<int[]> out = new ArrayList<>();
    int[] path = new int[pathLength];
    boolean[] seen = new boolean[stages];
    seen[0] = true;
    extend(path, 1, seen, 0, 0, 0, stages, maxSwaps, maxSwapDistance, maxTotalSwapDistance,
        maxJump, out);
    return out;
  }

  private static void extend(int[] path, int n, boolean[] seen, int frontier, int swaps,
      int totalDistance, int stages, int maxSwaps, int maxSwapDistance, int maxTotal, int maxJump,
      List<int[]> out) {
    if (n == path.length) {
      out.add(path.clone());
      return;
    }
    for (int s = 1; s < stages; s++) {
      if (seen[s] || s - frontier > maxJump) {
        continue;
      }
      int distance = Math.max(0, frontier - s);
      int sw = swaps + (distance > 0 ? 1 : 0);
      if (distance > maxSwapDistance || sw > maxSwaps || totalDistance + distance > maxTotal) {
        continue;
      }
      path[n] = s;
      seen[s] = true;
      extend(path, n + 1, seen, Math.max(frontier, s), sw, totalDistance + distance, stages,
          maxSwaps, maxSwapDistance, maxTotal, maxJump, out);
      seen[s] = false;
    }
  }

  /** One path drawn uniformly from {@code valid}. */
  static int[] draw(List<int[]> valid, RandomGenerator rng) {
    return valid.get(rng.nextInt(valid.size())).clone();
  }
}
