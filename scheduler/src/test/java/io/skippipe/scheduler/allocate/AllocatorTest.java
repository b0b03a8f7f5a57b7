package io.skippipe.scheduler.allocate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.profile.Presets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;

/** Allocators: valid partitions, GCMA no worse than in-order, matching checked by brute force. */
class AllocatorTest {

  @Test
  void bottleneckMatchingEqualsBruteForceOnSmallMatrices() {
    var rng = RandomGeneratorFactory.of("L64X128MixRandom").create(1);
    for (int t = 0; t < 200; t++) {
      int rows = 1 + rng.nextInt(4);
      int cols = 1 + rng.nextInt(4);
      double[][] w = new double[rows][cols];
      for (double[] r : w) {
        for (int j = 0; j < cols; j++) {
          r[j] = rng.nextInt(20);
        }
      }
      assertEquals(brute(w), Matching.bottleneck(w), "case " + t);
    }
  }

  /** Min over injective maps of the smaller side into the larger of the max edge used. */
  private static double brute(double[][] w) {
    boolean transpose = w.length > w[0].length;
    double[][] m = transpose ? transpose(w) : w;
    return rec(m, 0, new boolean[m[0].length], 0);
  }

  private static double rec(double[][] m, int row, boolean[] used, double worst) {
    if (row == m.length) {
      return worst;
    }
    double best = Double.POSITIVE_INFINITY;
    for (int c = 0; c < used.length; c++) {
      if (!used[c]) {
        used[c] = true;
        best = Math.min(best, rec(m, row + 1, used, Math.max(worst, m[row][c])));
        used[c] = false;
      }
    }
    return best;
  }

  private static double[][] transpose(double[][] w) {
    double[][] t = new double[w[0].length][w.length];
    for (int i = 0; i < w.length; i++) {
      for (int j = 0; j < w[0].length; j++) {
        t[j][i] = w[i][j];
      }
    }
    return t;
  }

  @Test
  void everyAllocatorPartitionsTheNodesAndGcmaBeatsInOrder() {
    var cluster = Presets.cluster("geo-distributed-gcp-20");
    var costs = CostModel.of(cluster, Presets.model("llama-500m"));
    List<Allocator> all = List.of(new GeneticAllocator(50, 500), new DtfmAllocator(20, 200),
        new InOrderAllocator());
    for (Allocator a : all) {
      Allocation alloc = a.allocate(costs, cluster.stageSizes(),
          RandomGeneratorFactory.of("L64X128MixRandom").create(5));
      Set<Integer> seen = new HashSet<>();
      for (int s = 0; s < alloc.stages().size(); s++) {
        assertEquals(cluster.stageSizes().get(s), alloc.stages().get(s).size(), a.name());
        seen.addAll(alloc.stages().get(s));
      }
      assertEquals(20, seen.size(), a.name());
    }
    double[][] c = new double[20][20];
    double[] w = new double[20];
    for (int x = 0; x < 20; x++) {
      w[x] = costs.forwardSeconds(x);
      for (int y = 0; y < 20; y++) {
        c[x][y] = costs.hopSeconds(x, y);
      }
    }
    int[] sizes = {5, 3, 3, 3, 3, 3};
    int[] inOrder = new int[20];
    for (int x = 0, s = 0, k = 0; x < 20; x++) {
      inOrder[x] = s;
      if (++k == sizes[s]) {
        s++;
        k = 0;
      }
    }
    double inOrderScore = GeneticAllocator.gcmaScore(GeneticAllocator.groups(inOrder, sizes), c,
        w, costs.dpFactor());
    Allocation gcma = new GeneticAllocator(50, 500).allocate(costs, cluster.stageSizes(),
        RandomGeneratorFactory.of("L64X128MixRandom").create(5));
    assertTrue(gcma.score() < inOrderScore, gcma.score() + " vs in-order " + inOrderScore);
  }

  @Test
  void dpFactorMatchesTheReferenceConstant() {
    // spec §1.4: FACTOR = 268 468 224 / 201 326 592 for the 500M model, L 4, B 8, M 6.
    assertEquals(1.33349609375, CostModel.dpFactor(Presets.model("llama-500m")), 1e-12);
  }
}
