package io.skippipe.model.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.train.TokenBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Split = unsplit: running a microbatch stage by stage through the host-buffer API (float copies
 * between stages, separate backward calls per stage) gives the same loss and the same gradient for
 * every parameter as one autograd graph over the same layers with a single backward.
 */
class SplitEqualsUnsplitTest {
  static final double TOL = 1e-6;
  static final long SEED = 42;
  static final int BATCH = 2;

  /** 12 layers so that 2-, 3- and 4-stage splits exist; GQA with 2 query heads per KV head. */
  static LlamaConfig config(int layersPerStage) {
    return LlamaConfig.of(32, 12, 4, 2, 48, 64, 8, layersPerStage);
  }

  static int[] tokens(long seed, LlamaConfig cfg) {
    SplittableRandom rng = new SplittableRandom(seed);
    int[] t = new int[BATCH * (cfg.seqLen() + 1)];
    for (int i = 0; i < t.length; i++) {
      t[i] = rng.nextInt(cfg.vocab());
    }
    return t;
  }

  static List<StageModel> stages(LlamaConfig cfg) {
    List<StageModel> out = new ArrayList<>();
    for (int s = 0; s < cfg.stages(); s++) {
      out.add(StageModel.create(cfg, s, SEED));
    }
    return out;
  }

  /** One graph: embed → layers of the path's stages in order → head → loss; one backward. */
  static float singleGraph(List<StageModel> stages, int[] path, int[] tokens, float lossScale) {
    LlamaConfig cfg = stages.get(0).config();
    TokenBatch b = TokenBatch.of(tokens, cfg.seqLen());
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      return AutogradAdapter.withGrad(
          () -> {
            Shape bt = new Shape(b.batch(), b.seqLen());
            NDArray ids = AutogradAdapter.owned(m, toLong(b.inputIds()), bt);
            NDArray targets = AutogradAdapter.owned(m, toLong(b.targets()), bt);
            NDArray h = stages.get(0).applyLayers(stages.get(0).embed(ids));
            for (int i = 1; i < path.length; i++) {
              h = stages.get(path[i]).applyLayers(h);
            }
            NDArray loss = StageModel.meanCrossEntropy(stages.get(0).logits(h), targets);
            AutogradAdapter.backward(loss, AutogradAdapter.ownedScalar(m, lossScale));
            return loss.getFloat();
          });
    }
  }

  /** The same microbatch through the host-buffer API, stage by stage. */
  static float split(List<StageModel> stages, int mb, int[] path, int[] tokens, float lossScale) {
    TokenBatch b = TokenBatch.of(tokens, stages.get(0).config().seqLen());
    float[] h = stages.get(0).forwardTokens(mb, b.inputIds());
    for (int i = 1; i < path.length; i++) {
      h = stages.get(path[i]).forward(mb, h);
    }
    LossResult<float[]> r = stages.get(0).lossAndBackwardStart(mb, h, b.targets(), lossScale);
    float[] g = r.gradHidden();
    for (int i = path.length - 1; i >= 1; i--) {
      g = stages.get(path[i]).backward(mb, g);
    }
    assertEquals(0, stages.get(0).backward(mb, g).length);
    return r.loss();
  }

  /** What one graph's backward left in libtorch's {@code .grad} of every parameter. */
  static Map<String, float[]> graphGradients(List<StageModel> stages) {
    Map<String, float[]> out = new HashMap<>();
    for (StageModel s : stages) {
      s.parameters().forEach((name, p) -> out.put(name, AutogradAdapter.readGradient(p)));
    }
    return out;
  }

  /** Tells every stage which of {@code paths}' microbatches (id = index) it will see. */
  static void startIteration(List<StageModel> stages, int[][] paths, int[] ids) {
    for (StageModel s : stages) {
      List<Integer> visiting = new ArrayList<>();
      for (int i = 0; i < paths.length; i++) {
        if (java.util.Arrays.stream(paths[i]).anyMatch(p -> p == s.stage())) {
          visiting.add(ids[i]);
        }
      }
      s.zeroGradients(visiting);
    }
  }

  /** The stages' summed gradients (the host-buffer API), by HF name. */
  static Map<String, float[]> gradients(List<StageModel> stages) {
    Map<String, float[]> out = new HashMap<>();
    for (StageModel s : stages) {
      float[] flat = s.flatGradients();
      int off = 0;
      for (Map.Entry<String, long[]> e : s.parameterShapes().entrySet()) {
        int n = 1;
        for (long d : e.getValue()) {
          n *= (int) d;
        }
        float[] g = new float[n];
        System.arraycopy(flat, off, g, 0, n);
        out.put(e.getKey(), g);
        off += n;
      }
    }
    return out;
  }

  static void assertSameGradients(Map<String, float[]> expected, Map<String, float[]> actual) {
    assertEquals(expected.keySet(), actual.keySet());
    double worst = 0;
    double largest = 0;
    for (String name : expected.keySet()) {
      float[] e = expected.get(name);
      float[] a = actual.get(name);
      assertEquals(e.length, a.length, name);
      for (int i = 0; i < e.length; i++) {
        double d = Math.abs(e[i] - a[i]);
        worst = Math.max(worst, d);
        largest = Math.max(largest, Math.abs(e[i]));
        assertTrue(d <= TOL, name + "[" + i + "]: expected " + e[i] + " got " + a[i]);
      }
    }
    System.out.printf(
        "max |grad diff| = %.3e over %d tensors (largest |grad| %.3e)%n",
        worst, expected.size(), largest);
    assertTrue(largest > 1e-4, "gradients must not be trivially zero");
  }

  static void closeAll(List<StageModel> stages) {
    stages.forEach(StageModel::close);
  }

  @Test
  void splitsIntoTwoThreeAndFourStagesEqualTheUnsplitModel() {
    int[] tokens = tokens(1, config(12));
    List<StageModel> whole = stages(config(12));
    float expectedLoss = singleGraph(whole, new int[] {0}, tokens, 1f);
    Map<String, float[]> expected = graphGradients(whole);
    closeAll(whole);
    for (int layersPerStage : new int[] {6, 4, 3}) {
      LlamaConfig cfg = config(layersPerStage);
      List<StageModel> parts = stages(cfg);
      startIteration(parts, new int[][] {io.skippipe.model.train.PathTrainer.fullPath(cfg.stages())}, new int[] {0});
      float loss =
          split(parts, 0, io.skippipe.model.train.PathTrainer.fullPath(cfg.stages()), tokens, 1f);
      System.out.printf("%d stages: loss %.8f vs unsplit %.8f%n", cfg.stages(), loss, expectedLoss);
      assertEquals(expectedLoss, loss, TOL);
      assertSameGradients(expected, gradients(parts));
      closeAll(parts);
    }
  }

  @Test
  void reorderedAndSkippingPathsEqualOneGraphOverTheSameLayers() {
    LlamaConfig cfg = config(3);
    int[] tokens = tokens(2, cfg);
    for (int[] path : new int[][] {{0, 2, 1, 3}, {0, 3, 1}, {0}}) {
      List<StageModel> reference = stages(cfg);
      float expectedLoss = singleGraph(reference, path, tokens, 0.5f);
      Map<String, float[]> expected = graphGradients(reference);
      List<StageModel> parts = stages(cfg);
      startIteration(parts, new int[][] {path}, new int[] {7});
      float loss = split(parts, 7, path, tokens, 0.5f);
      assertEquals(expectedLoss, loss, TOL);
      assertSameGradients(expected, gradients(parts));
      // a skipped stage receives no gradient at all
      for (int s = 0; s < cfg.stages(); s++) {
        final int stage = s;
        if (java.util.Arrays.stream(path).noneMatch(p -> p == stage)) {
          assertEquals(0.0, parts.get(s).gradientSumOfSquares(), "skipped stage " + s);
        }
      }
      closeAll(reference);
      closeAll(parts);
    }
  }

  @Test
  void interleavedMicrobatchesOnStageThreadsAccumulateLikeSeparateGraphs() throws Exception {
    LlamaConfig cfg = config(3);
    int[][] paths = {{0, 1, 2, 3}, {0, 2, 1, 3}, {0, 3, 1}};
    int[][] data = {tokens(10, cfg), tokens(11, cfg), tokens(12, cfg)};
    float scale = 1f / 3;
    List<StageModel> reference = stages(cfg);
    float[] expectedLoss = new float[3];
    for (int mb = 0; mb < 3; mb++) {
      expectedLoss[mb] = singleGraph(reference, paths[mb], data[mb], scale);
    }
    Map<String, float[]> expected = graphGradients(reference);
    closeAll(reference);

    // (a) one thread per stage, forwards of all microbatches first, backwards in another order
    List<StageModel> parts = stages(cfg);
    startIteration(parts, paths, new int[] {0, 1, 2});
    List<ExecutorService> threads = new ArrayList<>();
    for (int s = 0; s < cfg.stages(); s++) {
      threads.add(Executors.newSingleThreadExecutor());
    }
    float[][] hidden = new float[3][];
    TokenBatch[] batches = new TokenBatch[3];
    for (int mb = 0; mb < 3; mb++) {
      batches[mb] = TokenBatch.of(data[mb], cfg.seqLen());
      final int m = mb;
      hidden[mb] = on(threads.get(0), () -> parts.get(0).forwardTokens(m, batches[m].inputIds()));
    }
    for (int hop = 1; hop <= 3; hop++) {
      for (int mb = 0; mb < 3; mb++) {
        if (hop < paths[mb].length) {
          final int m = mb;
          final int s = paths[mb][hop];
          hidden[mb] = on(threads.get(s), () -> parts.get(s).forward(m, hidden[m]));
        }
      }
    }
    assertEquals(3, parts.get(0).inFlight());
    // what a busy executor does between forwards and backwards: collect garbage and reuse freed
    // memory (regression: a graph tensor wrapping a freed Java buffer turned gradients into NaN)
    churnMemory();
    for (int mb : new int[] {2, 0, 1}) {
      final int m = mb;
      LossResult<float[]> r =
          on(
              threads.get(0),
              () -> parts.get(0).lossAndBackwardStart(m, hidden[m], batches[m].targets(), scale));
      assertEquals(expectedLoss[mb], r.loss(), TOL);
      float[] g = r.gradHidden();
      for (int i = paths[mb].length - 1; i >= 1; i--) {
        final int s = paths[mb][i];
        final float[] gin = g;
        g = on(threads.get(s), () -> parts.get(s).backward(m, gin));
      }
      final float[] g0 = g;
      on(threads.get(0), () -> parts.get(0).backward(m, g0));
    }
    for (StageModel s : parts) {
      assertEquals(0, s.inFlight());
    }
    assertSameGradients(expected, gradients(parts));
    threads.forEach(ExecutorService::shutdown);
    closeAll(parts);

    // (b) each microbatch driven by its own thread at the same time; stages shared
    List<StageModel> shared = stages(cfg);
    startIteration(shared, paths, new int[] {0, 1, 2});
    ExecutorService drivers = Executors.newFixedThreadPool(3);
    List<Future<Float>> losses = new ArrayList<>();
    for (int mb = 0; mb < 3; mb++) {
      final int m = mb;
      losses.add(drivers.submit(() -> split(shared, m, paths[m], data[m], scale)));
    }
    for (int mb = 0; mb < 3; mb++) {
      assertEquals(expectedLoss[mb], losses.get(mb).get(), TOL);
    }
    drivers.shutdown();
    assertSameGradients(expected, gradients(shared));
    closeAll(shared);
  }

  static void churnMemory() {
    for (int round = 0; round < 3; round++) {
      System.gc();
      try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
        for (int i = 0; i < 50; i++) {
          float[] junk = new float[1 + (i * 7919) % 4096];
          java.util.Arrays.fill(junk, Float.NaN);
          m.create(junk).mul(Float.POSITIVE_INFINITY);
        }
      }
    }
  }

  static <T> T on(ExecutorService thread, java.util.concurrent.Callable<T> call) throws Exception {
    return thread.submit(call).get();
  }

  static long[] toLong(int[] ids) {
    long[] out = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = ids[i];
    }
    return out;
  }
}
