package io.skippipe.scheduler.allocate;

import io.skippipe.scheduler.cost.CostModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * GCMA: genetic node-to-stage allocation with a cyclic-partitioning local search, after DT-FM
 * (Yuan et al., NeurIPS 2022) as adapted by SkipPipe (spec §3), implementing the intended
 * behaviour: the data-parallel cost is weighted by FACTOR (Q1 fixed), stages of different sizes
 * are matched over all nodes of the smaller one (Q3), the local search uses a real gain (Q4), and
 * pipelines are aligned by the matching itself (Q5). Seeded by the caller's generator.
 *
 * <p>Fitness of a partition P (lower is better): {@code DP + 2·PP} where {@code DP = FACTOR ·
 * max over stages of the largest hop cost inside a stage} (its all-reduce is as slow as its worst
 * link) and {@code PP} is the cheapest closed tour over the stages starting at stage 0, the
 * distance from stage i to j being the bottleneck matching value with edge weight {@code c[x][y] +
 * w[x]}.
 *
 * <p>Loop: a population of random partitions; each trial picks two parents, copies five random
 * positions of one assignment string into the other, repairs the stage sizes, runs one round of
 * cyclic moves (a chain of single-node moves S0 → S1 → ... → S0 that keeps every stage's size,
 * kept only when its total gain in intra-stage hop cost is positive) and replaces the worse
 * parent if the child is no worse than it. The best partition ever seen wins.
 */
public final class GeneticAllocator implements Allocator {
  /** Fitness of a partition; lower is better. */
  interface Fitness {
    double score(int[][] groups);
  }

  private final int population;
  private final int trials;
  private final boolean dtfmFitness;

  /**
   * @param population candidates kept (spec default 200)
   * @param trials offspring generated (spec default 8000)
   */
  public GeneticAllocator(int population, int trials) {
    this(population, trials, false);
  }

  GeneticAllocator(int population, int trials, boolean dtfmFitness) {
    if (population < 2 || trials < 0) {
      throw new IllegalArgumentException("GCMA needs population >= 2 and trials >= 0, got "
          + population + " / " + trials);
    }
    this.population = population;
    this.trials = trials;
    this.dtfmFitness = dtfmFitness;
  }

  @Override
  public String name() {
    return dtfmFitness ? "dtfm" : "genetic";
  }

  @Override
  public Allocation allocate(CostModel costs, List<Integer> stageSizes, RandomGenerator rng) {
    int n = costs.size();
    int k = stageSizes.size();
    double[][] c = new double[n][n];
    double[] w = new double[n];
    for (int x = 0; x < n; x++) {
      w[x] = costs.forwardSeconds(x);
      for (int y = 0; y < n; y++) {
        c[x][y] = costs.hopSeconds(x, y);
      }
    }
    double factor = costs.dpFactor();
    // Bottleneck values of stage pairs seen before (the population shares most of its stages).
    java.util.Map<PairKey, Double> memo = n <= 64 ? new java.util.HashMap<>() : null;
    Fitness fitness = dtfmFitness ? groups -> dtfmScore(groups, c, factor, memo)
        : groups -> gcmaScore(groups, c, w, factor, memo);
    int[] sizes = stageSizes.stream().mapToInt(Integer::intValue).toArray();
    if (k == 1) {
      int[] all = new int[n];
      Arrays.setAll(all, i -> i);
      return finish(new int[][] {all}, c, w, fitness);
    }
    int[][] pop = new int[population][];
    double[] score = new double[population];
    int[] best = null;
    double bestScore = Double.POSITIVE_INFINITY;
    for (int i = 0; i < population; i++) {
      int[] perm = new int[n];
      Arrays.setAll(perm, j -> j);
      shuffle(perm, rng);
      pop[i] = assignmentOf(perm, sizes, n);
      score[i] = fitness.score(groups(pop[i], sizes));
      if (score[i] < bestScore) {
        bestScore = score[i];
        best = pop[i];
      }
    }
    for (int t = 0; t < trials; t++) {
      int p1 = rng.nextInt(population);
      int p2 = rng.nextInt(population);
      int[] child = pop[p2].clone();
      for (int q = 0; q < Math.min(5, n); q++) {
        int point = rng.nextInt(n);
        child[point] = pop[p1][point];
      }
      repair(child, sizes);
      moveCycles(child, c, factor, k);
      double s = fitness.score(groups(child, sizes));
      if (s < bestScore) {
        bestScore = s;
        best = child;
      }
      if (s <= Math.max(score[p1], score[p2])) {
        int worse = score[p1] > score[p2] ? p1 : p2;
        pop[worse] = child;
        score[worse] = s;
      }
    }
    return finish(groups(best, sizes), c, w, fitness);
  }

  /** Orders the stages along the cheapest tour (when sizes allow) and aligns the pipelines. */
  private Allocation finish(int[][] groups, double[][] c, double[] w, Fitness fitness) {
    int k = groups.length;
    int[] order = new int[k];
    Arrays.setAll(order, i -> i);
    boolean equalSizes = true;
    for (int s = 2; s < k; s++) {
      equalSizes &= groups[s].length == groups[1].length;
    }
    if (k > 2 && equalSizes && !dtfmFitness) {
      order = closedTourOrder(interStage(groups, c, w));
    }
    int[][] ordered = new int[k][];
    for (int i = 0; i < k; i++) {
      ordered[i] = groups[order[i]].clone();
    }
    // Pipeline alignment: position j of every stage list is pipeline j.
    for (int s = 0; s + 1 < k; s++) {
      int[] prev = ordered[s];
      int[] next = ordered[s + 1];
      double[][] m = new double[prev.length][next.length];
      for (int a = 0; a < prev.length; a++) {
        for (int b = 0; b < next.length; b++) {
          m[a][b] = c[prev[a]][next[b]] + w[prev[a]];
        }
      }
      int[] matchOfRow = new int[prev.length];
      Matching.solve(m, matchOfRow);
      List<Integer> prevOrder = new ArrayList<>();
      List<Integer> nextOrder = new ArrayList<>();
      boolean[] used = new boolean[next.length];
      for (int a = 0; a < prev.length; a++) {
        if (matchOfRow[a] >= 0) {
          prevOrder.add(prev[a]);
          nextOrder.add(next[matchOfRow[a]]);
          used[matchOfRow[a]] = true;
        }
      }
      for (int a = 0; a < prev.length; a++) {
        if (matchOfRow[a] < 0) {
          prevOrder.add(prev[a]);
        }
      }
      for (int b = 0; b < next.length; b++) {
        if (!used[b]) {
          nextOrder.add(next[b]);
        }
      }
      if (s == 0) {
        ordered[0] = prevOrder.stream().mapToInt(Integer::intValue).toArray();
      }
      ordered[s + 1] = nextOrder.stream().mapToInt(Integer::intValue).toArray();
    }
    List<List<Integer>> stages = new ArrayList<>();
    for (int[] g : ordered) {
      stages.add(Arrays.stream(g).boxed().toList());
    }
    return new Allocation(stages, fitness.score(groups));
  }

  /** Memo key: the node sets of two stages as bit masks (clusters of at most 64 nodes). */
  record PairKey(long from, long to, boolean withCompute) {}

  static double gcmaScore(int[][] groups, double[][] c, double[] w, double factor) {
    return gcmaScore(groups, c, w, factor, null);
  }

  static double gcmaScore(int[][] groups, double[][] c, double[] w, double factor,
      java.util.Map<PairKey, Double> memo) {
    double dp = 0;
    for (int[] g : groups) {
      for (int x : g) {
        for (int y : g) {
          dp = Math.max(dp, c[x][y]);
        }
      }
    }
    double[][] b = interStage(groups, c, w, memo, true);
    return factor * dp + 2 * closedTour(b);
  }

  static double dtfmScore(int[][] groups, double[][] c, double factor,
      java.util.Map<PairKey, Double> memo) {
    double dp = 0;
    for (int[] g : groups) {
      for (int x : g) {
        double sum = 0;
        for (int y : g) {
          sum += x == y ? 0 : 2 * factor * c[x][y];
        }
        dp = Math.max(dp, sum);
      }
    }
    double[][] b = interStage(groups, c, new double[c.length], memo, false);
    return dp + 2 * openPath(b);
  }

  /** b[i][j]: bottleneck matching value from stage i to stage j with edge c[x][y] + w[x]. */
  static double[][] interStage(int[][] groups, double[][] c, double[] w) {
    return interStage(groups, c, w, null, true);
  }

  private static double[][] interStage(int[][] groups, double[][] c, double[] w,
      java.util.Map<PairKey, Double> memo, boolean withCompute) {
    int k = groups.length;
    double[][] b = new double[k][k];
    long[] masks = new long[k];
    if (memo != null) {
      for (int i = 0; i < k; i++) {
        for (int x : groups[i]) {
          masks[i] |= 1L << x;
        }
      }
    }
    for (int i = 0; i < k; i++) {
      for (int j = 0; j < k; j++) {
        if (i == j) {
          continue;
        }
        PairKey key = memo == null ? null : new PairKey(masks[i], masks[j], withCompute);
        Double known = key == null ? null : memo.get(key);
        if (known != null) {
          b[i][j] = known;
          continue;
        }
        double[][] m = new double[groups[i].length][groups[j].length];
        for (int a = 0; a < groups[i].length; a++) {
          for (int q = 0; q < groups[j].length; q++) {
            m[a][q] = c[groups[i][a]][groups[j][q]] + w[groups[i][a]];
          }
        }
        b[i][j] = Matching.bottleneck(m);
        if (key != null) {
          memo.put(key, b[i][j]);
        }
      }
    }
    return b;
  }

  /** Held–Karp: cheapest tour 0 → all stages → 0. */
  static double closedTour(double[][] b) {
    return heldKarp(b, true)[0][0];
  }

  /** Stage order of the cheapest closed tour starting at stage 0 (ties: lower stage first). */
  static int[] closedTourOrder(double[][] b) {
    int k = b.length;
    double[][] dp = heldKarp(b, true);
    int[] order = new int[k];
    int mask = 1;
    int last = 0;
    for (int i = 1; i < k; i++) {
      int bestNext = -1;
      double bestCost = Double.POSITIVE_INFINITY;
      for (int nx = 1; nx < k; nx++) {
        if ((mask & (1 << nx)) != 0) {
          continue;
        }
        double cost = b[last][nx] + dp[mask | (1 << nx)][nx];
        if (cost < bestCost - 1e-12) {
          bestCost = cost;
          bestNext = nx;
        }
      }
      order[i] = bestNext;
      mask |= 1 << bestNext;
      last = bestNext;
    }
    return order;
  }

  /** dp[mask][last] = cheapest completion from {@code last} having visited {@code mask}. */
  private static double[][] heldKarp(double[][] b, boolean closed) {
    int k = b.length;
    int full = (1 << k) - 1;
    double[][] dp = new double[1 << k][k];
    for (int mask = full; mask >= 1; mask--) {
      for (int last = 0; last < k; last++) {
        if ((mask & (1 << last)) == 0) {
          continue;
        }
        if (mask == full) {
          dp[mask][last] = closed ? b[last][0] : 0;
          continue;
        }
        double best = Double.POSITIVE_INFINITY;
        for (int nx = 0; nx < k; nx++) {
          if ((mask & (1 << nx)) == 0) {
            best = Math.min(best, b[last][nx] + dp[mask | (1 << nx)][nx]);
          }
        }
        dp[mask][last] = best;
      }
    }
    return dp;
  }

  /** Cheapest open path visiting every stage, from any start (DT-FM's PP cost). */
  static double openPath(double[][] b) {
    double[][] dp = heldKarp(b, false);
    double best = Double.POSITIVE_INFINITY;
    for (int s = 0; s < b.length; s++) {
      best = Math.min(best, dp[1 << s][s]);
    }
    return best;
  }

  private static void shuffle(int[] a, RandomGenerator rng) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** Assignment string: stage of each node, from a permutation cut by stage sizes. */
  private static int[] assignmentOf(int[] perm, int[] sizes, int n) {
    int[] a = new int[n];
    int pos = 0;
    for (int s = 0; s < sizes.length; s++) {
      for (int i = 0; i < sizes[s]; i++) {
        a[perm[pos++]] = s;
      }
    }
    return a;
  }

  /** Nodes of each stage in increasing id order. */
  static int[][] groups(int[] assignment, int[] sizes) {
    int[][] g = new int[sizes.length][];
    int[] fill = new int[sizes.length];
    for (int s = 0; s < sizes.length; s++) {
      g[s] = new int[sizes[s]];
    }
    for (int x = 0; x < assignment.length; x++) {
      g[assignment[x]][fill[assignment[x]]++] = x;
    }
    return g;
  }

  /** Moves nodes of over-full stages (scanning by id) to the first under-full stage. */
  private static void repair(int[] a, int[] sizes) {
    int[] count = new int[sizes.length];
    for (int s : a) {
      count[s]++;
    }
    for (int x = 0; x < a.length; x++) {
      if (count[a[x]] > sizes[a[x]]) {
        for (int t = 0; t < sizes.length; t++) {
          if (count[t] < sizes[t]) {
            count[a[x]]--;
            count[t]++;
            a[x] = t;
            break;
          }
        }
      }
    }
  }

  /**
   * One pass of cyclic partitioning (spec §3.5, intended gain): repeatedly start at the stage with
   * the best single move, follow best moves stage to stage (each node moved at most once) until
   * the chain returns to its start, and keep the cycle if its total gain is positive. Gain of
   * moving v from s to t = FACTOR · (Σ_{u∈s} c[v][u] − Σ_{u∈t} c[v][u]).
   */
  private static void moveCycles(int[] a, double[][] c, double factor, int k) {
    int n = a.length;
    double[][] d = new double[n][k];
    for (int v = 0; v < n; v++) {
      for (int u = 0; u < n; u++) {
        if (u != v) {
          d[v][a[u]] += c[v][u];
        }
      }
    }
    boolean[] locked = new boolean[n];
    for (int round = 0; round < k; round++) {
      int start = -1;
      double startGain = 0;
      for (int v = 0; v < n; v++) {
        if (locked[v]) {
          continue;
        }
        for (int t = 0; t < k; t++) {
          double g = factor * (d[v][a[v]] - d[v][t]);
          if (t != a[v] && g > startGain) {
            startGain = g;
            start = a[v];
          }
        }
      }
      if (start < 0) {
        return;
      }
      List<int[]> moves = new ArrayList<>();
      double total = 0;
      int from = start;
      for (int step = 0; step < k; step++) {
        int bv = -1;
        int bt = -1;
        double bg = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < n; v++) {
          if (locked[v] || a[v] != from) {
            continue;
          }
          for (int t = 0; t < k; t++) {
            if (t == from) {
              continue;
            }
            // The last move must close the cycle; earlier moves must not close it early.
            double g = factor * (d[v][from] - d[v][t]);
            if (g > bg) {
              bg = g;
              bv = v;
              bt = t;
            }
          }
        }
        if (bv < 0) {
          break;
        }
        move(a, d, c, bv, bt);
        locked[bv] = true;
        moves.add(new int[] {bv, from, bt});
        total += bg;
        from = bt;
        if (from == start) {
          break;
        }
      }
      if (from != start || total <= 1e-12) {
        for (int i = moves.size() - 1; i >= 0; i--) {
          int[] mv = moves.get(i);
          move(a, d, c, mv[0], mv[1]);
        }
      }
    }
  }

  private static void move(int[] a, double[][] d, double[][] c, int v, int to) {
    int from = a[v];
    for (int u = 0; u < a.length; u++) {
      if (u != v) {
        d[u][from] -= c[u][v];
        d[u][to] += c[u][v];
      }
    }
    a[v] = to;
  }
}
