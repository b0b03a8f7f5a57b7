package io.skippipe.scheduler.allocate;

import io.skippipe.scheduler.cost.CostModel;
import java.util.ArrayList;
import java.util.List;

/**
 * The ring order of a stage's replicas for its gradient all-reduce. The runtime's ring follows the
 * stage list's order, and every ring step waits for its slowest link, so the order that minimises
 * the slowest link (latency + hop overhead + segment bytes / bandwidth, segment = gradient / n)
 * minimises the all-reduce (ring cost model in {@code simulate.Simulator}). Exact for up to 8
 * replicas (all (n−1)! rings through the first replica), greedy nearest-neighbour beyond.
 */
public final class RingOrder {
  private RingOrder() {}

  /** The replicas reordered for the cheapest ring; the first replica stays first. */
  public static List<Integer> best(List<Integer> replicas, CostModel costs, long gradientBytes) {
    int n = replicas.size();
    if (n <= 2) {
      return replicas;
    }
    long segment = gradientBytes / n;
    long[][] c = new long[n][n];
    for (int a = 0; a < n; a++) {
      for (int b = 0; b < n; b++) {
        c[a][b] = costs.messageMicros(replicas.get(a), replicas.get(b), segment);
      }
    }
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    int[] best = order.clone();
    if (n <= 8) {
      long[] bestCost = {cost(order, c)};
      permute(order, 1, c, best, bestCost);
    } else {
      boolean[] used = new boolean[n];
      used[0] = true;
      for (int i = 1; i < n; i++) {
        int pick = -1;
        for (int b = 0; b < n; b++) {
          if (!used[b] && (pick < 0 || c[best[i - 1]][b] < c[best[i - 1]][pick])) {
            pick = b;
          }
        }
        best[i] = pick;
        used[pick] = true;
      }
    }
    List<Integer> out = new ArrayList<>();
    for (int i : best) {
      out.add(replicas.get(i));
    }
    return out;
  }

  /** Slowest directed link of the ring {@code order[0] → order[1] → … → order[0]}. */
  private static long cost(int[] order, long[][] c) {
    long worst = 0;
    for (int i = 0; i < order.length; i++) {
      worst = Math.max(worst, c[order[i]][order[(i + 1) % order.length]]);
    }
    return worst;
  }

  private static void permute(int[] a, int k, long[][] c, int[] best, long[] bestCost) {
    if (k == a.length) {
      long cost = cost(a, c);
      if (cost < bestCost[0]) {
        bestCost[0] = cost;
        System.arraycopy(a, 0, best, 0, a.length);
      }
      return;
    }
    for (int i = k; i < a.length; i++) {
      swap(a, k, i);
      permute(a, k + 1, c, best, bestCost);
      swap(a, k, i);
    }
  }

  private static void swap(int[] a, int i, int j) {
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
