package io.skippipe.scheduler.route;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Constraints;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Time-aware A* for one agent (spec §4.3, intended behaviour): finds the path of exactly ℓ stages
 * from the data node, under the convergence constraints (no stage twice, at most maxSwaps swaps
 * each at most maxSwapDistance back, at most maxJump from the frontier), that minimises the
 * agent's completion time — forward along the path, loss at the data node, backward along the
 * reversed path — given its forbidden stages and nodes and its WAIT windows (a task never
 * overlaps a window on its node; it starts at the window's end instead).
 *
 * <p>f = the time the forward reaches the next node plus a lower bound on everything still to do
 * (that node's forward, the remaining hops and forwards, the return, the loss and every backward
 * and backward hop), so the first complete path popped is optimal for this model. States with
 * the same node, visited stages, frontier and swap count are pruned when an earlier one was no
 * later and owed no more backward work.
 */
final class TimeAwareAStar {
  private static final int MAX_EXPANSIONS = 400_000;

  private final CostModel costs;
  private final int[] stageOf;
  private final List<List<Integer>> stages;
  private final Constraints limits;
  private final long minHop;
  private final long minFwd;
  private final long minBwd;

  TimeAwareAStar(CostModel costs, List<List<Integer>> stages, int[] stageOf,
      Constraints limits) {
    this.costs = costs;
    this.stages = stages;
    this.stageOf = stageOf;
    this.limits = limits;
    long h = Long.MAX_VALUE;
    long f = Long.MAX_VALUE;
    long b = Long.MAX_VALUE;
    int n = costs.size();
    for (int x = 0; x < n; x++) {
      f = Math.min(f, costs.forwardMicros(x));
      b = Math.min(b, costs.backwardMicros(x));
      for (int y = 0; y < n; y++) {
        if (x != y) {
          h = Math.min(h, costs.hopMicros(x, y));
        }
      }
    }
    this.minHop = h == Long.MAX_VALUE ? 0 : h;
    this.minFwd = f;
    this.minBwd = b;
  }

  /** A search state: the forward has reached {@code node} at {@code arrive}. */
  private record Item(long f, long arrive, long back, int node, long mask, int frontier,
      int swaps, int hops, Item parent, long fwdStart, long fwdEnd, long seq, long tie,
      AgentPlan done) {}

  /**
   * Plans one agent. {@code avoidStages} is a bit mask of forbidden stages, {@code avoidNodes}
   * forbidden nodes (may be null), {@code waits} the agent's WAIT constraints, {@code tieRank}
   * per node tie-break ranks (lower first; may be null = node id). Returns null when no path
   * satisfies the constraints.
   */
  AgentPlan plan(Agent agent, long avoidStages, boolean[] avoidNodes, List<Constraint> waits,
      int[] tieRank) {
    return plan(agent, avoidStages, 0L, avoidNodes, waits, tieRank);
  }

  /** As above; the path must also visit every stage in the bit mask {@code requireStages}. */
  AgentPlan plan(Agent agent, long avoidStages, long requireStages, boolean[] avoidNodes,
      List<Constraint> waits, int[] tieRank) {
    if (Long.bitCount(requireStages & ~1L) > limits.pathLength() - 1) {
      return null;
    }
    int d = agent.dataNode();
    int l = limits.pathLength();
    Map<Integer, List<long[]>> windows = new HashMap<>();
    if (waits != null) {
      for (Constraint c : waits) {
        windows.computeIfAbsent(c.node(), k -> new ArrayList<>())
            .add(new long[] {c.startMicros(), c.endMicros()});
      }
    }
    PriorityQueue<Item> open = new PriorityQueue<>((a, b) -> {
      if (a.f != b.f) {
        return Long.compare(a.f, b.f);
      }
      if ((a.done != null) != (b.done != null)) {
        return a.done != null ? -1 : 1;
      }
      if (a.tie != b.tie) {
        return Long.compare(a.tie, b.tie);
      }
      return Long.compare(a.seq, b.seq);
    });
    long[] seq = {0};
    long back0 = costs.backwardMicros(d);
    open.add(new Item(agent.releaseMicros() + lowerBound(d, d, l - 1, back0), agent.releaseMicros(),
        back0, d, 1L, 0, 0, 0, null, 0, 0, seq[0]++, 0, null));
    Map<Long, long[]> closed = new HashMap<>();
    int expansions = 0;
    while (!open.isEmpty()) {
      Item it = open.poll();
      if (it.done != null) {
        return it.done;
      }
      if (++expansions > MAX_EXPANSIONS) {
        return null;
      }
      long key = (((long) it.node * 64 + it.frontier) * 64 + it.swaps) * (1L << 32) ^ it.mask;
      long[] seen = closed.get(key);
      if (seen != null && seen[0] <= it.arrive && seen[1] <= it.back) {
        continue;
      }
      closed.put(key, new long[] {it.arrive, it.back});
      long start = waitFor(windows.get(it.node), it.arrive, costs.forwardMicros(it.node));
      long end = start + costs.forwardMicros(it.node);
      Item here = new Item(it.f, it.arrive, it.back, it.node, it.mask, it.frontier, it.swaps,
          it.hops, it.parent, start, end, it.seq, it.tie, null);
      if (it.hops == l - 1) {
        AgentPlan p = finish(here, d, l, windows);
        open.add(new Item(p.endMicros(), 0, 0, d, 0, 0, 0, 0, null, 0, 0, seq[0]++, 0, p));
        continue;
      }
      for (int s = 1; s < stages.size(); s++) {
        if ((it.mask & (1L << s)) != 0 || (avoidStages & (1L << s)) != 0) {
          continue;
        }
        if (Math.abs(s - it.frontier) > limits.maxJump()) {
          continue;
        }
        long mask = it.mask | (1L << s);
        if (Long.bitCount(requireStages & ~mask) > l - 1 - (it.hops + 1)) {
          continue;
        }
        int swaps = it.swaps;
        int frontier = it.frontier;
        if (s < it.frontier) {
          if (it.frontier - s > limits.maxSwapDistance() || swaps + 1 > limits.maxSwaps()) {
            continue;
          }
          swaps++;
        } else {
          frontier = s;
        }
        for (int y : stages.get(s)) {
          if (avoidNodes != null && avoidNodes[y]) {
            continue;
          }
          long arrive = end + costs.hopMicros(it.node, y);
          long back = it.back + costs.backwardMicros(y) + costs.hopMicros(y, it.node);
          int r = l - 1 - (it.hops + 1);
          long f = arrive + lowerBound(y, d, r, back);
          open.add(new Item(f, arrive, back, y, mask, frontier, swaps,
              it.hops + 1, here, 0, 0, seq[0]++, tieRank == null ? y : tieRank[y], null));
        }
      }
    }
    return null;
  }

  /** Lower bound on the time from arriving at {@code y} until the final backward ends. */
  private long lowerBound(int y, int d, int remaining, long back) {
    long rest = costs.forwardMicros(y) + costs.lossMicros(d) + back;
    if (remaining == 0) {
      return rest + (y == d ? 0 : costs.hopMicros(y, d) + costs.hopMicros(d, y));
    }
    return rest + remaining * (minFwd + minBwd) + (2L * remaining + 2) * minHop;
  }

  /** The loss and backward pass after the last forward, with waits; the agent's timeline. */
  private AgentPlan finish(Item last, int d, int l, Map<Integer, List<long[]>> windows) {
    int[] path = new int[l];
    long[] fs = new long[l];
    long[] fe = new long[l];
    Item p = last;
    for (int i = l - 1; i >= 0; i--) {
      path[i] = p.node;
      fs[i] = p.fwdStart;
      fe[i] = p.fwdEnd;
      p = p.parent;
    }
    int v = 2 * l + 1;
    int[] node = new int[v];
    long[] vs = new long[v];
    long[] ve = new long[v];
    boolean[] fwd = new boolean[v];
    for (int i = 0; i < l; i++) {
      node[i] = path[i];
      vs[i] = fs[i];
      ve[i] = fe[i];
      fwd[i] = true;
    }
    long t = fe[l - 1] + costs.hopMicros(path[l - 1], d);
    long s = waitFor(windows.get(d), t, costs.lossMicros(d));
    node[l] = d;
    vs[l] = s;
    ve[l] = s + costs.lossMicros(d);
    t = ve[l];
    int prev = d;
    for (int i = l - 1; i >= 0; i--) {
      int x = path[i];
      t += costs.hopMicros(prev, x);
      s = waitFor(windows.get(x), t, costs.backwardMicros(x));
      int idx = 2 * l - i;
      node[idx] = x;
      vs[idx] = s;
      ve[idx] = s + costs.backwardMicros(x);
      t = ve[idx];
      prev = x;
    }
    return new AgentPlan(path, node, vs, ve, fwd, t);
  }

  /** Earliest start at or after t such that [start, start+dur) overlaps no window. */
  static long waitFor(List<long[]> windows, long t, long dur) {
    if (windows == null) {
      return t;
    }
    boolean moved = true;
    while (moved) {
      moved = false;
      for (long[] w : windows) {
        if (t < w[1] && w[0] < t + dur) {
          t = w[1];
          moved = true;
        }
      }
    }
    return t;
  }
}
