package io.skippipe.model.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.LossResult;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.TokenBatch;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.LlamaTensors;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The DJL stages (model-core) against the independent double-precision reference, on the
 * llama-tiny configuration (dim 64, 12 layers in 6 stages, 4 heads / 2 kv heads, ffn 176, vocab
 * 1024) with random weights large enough for non-trivial attention: logits and loss agree to
 * 1e-4 relative, and the DJL backward's parameter gradients agree with central finite differences
 * of the reference loss.
 */
class ReferenceVsDjlTest {
  static final LlamaConfig TINY = LlamaConfig.of(64, 12, 4, 2, 176, 1024, 64, 2);
  static final HfConfig HF = HfConfig.from(TINY, 0, 0);
  static final int B = 2;
  static final int T = 64;

  static Map<String, float[]> weights;
  static List<StageModel> stages;
  static ReferenceLlama reference;
  static int[] tokens;

  @BeforeAll
  static void build() {
    weights = ReferenceLlamaTest.randomWeights(HF, 11, 1.0);
    stages = new ArrayList<>();
    for (int s = 0; s < TINY.stages(); s++) {
      StageModel m = StageModel.create(TINY, s, 99);
      m.importWeights(weights);
      stages.add(m);
    }
    reference = new ReferenceLlama(HF, weights);
    tokens = ReferenceLlamaTest.tokens(B, T, 1024, 12);
  }

  @AfterAll
  static void close() {
    stages.forEach(StageModel::close);
  }

  /** Runs a path forward through the host-buffer API; returns the hidden state before the head. */
  static float[] forwardPath(int mb, int[] path, int[] inputIds) {
    float[] h = stages.get(0).forwardTokens(mb, inputIds);
    for (int i = 1; i < path.length; i++) {
      h = stages.get(path[i]).forward(mb, h);
    }
    return h;
  }

  static double maxAbs(double[] a) {
    double m = 0;
    for (double v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  @Test
  void fullModelLogitsAndLossAgreeWithTheReference() {
    int[] path = {0, 1, 2, 3, 4, 5};
    TokenBatch batch = TokenBatch.of(tokens, T);
    float[] hidden = forwardPath(1, path, batch.inputIds());
    float[] logits;
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      logits = stages.get(0).logits(m.create(hidden, new Shape(B, T, 64))).toFloatArray();
    }
    stages.get(0).zeroGradients(List.of(1));
    LossResult<float[]> loss = stages.get(0).lossAndBackwardStart(1, hidden, batch.targets(), 1f);
    for (int i = path.length - 1; i >= 0; i--) {
      stages.get(path[i]).abort(1);
    }
    ReferenceLlama.Output ref = reference.forward(tokens, B, T, reference.allLayers());
    double scale = maxAbs(ref.logits());
    assertTrue(scale > 3, "logits should be far from zero to make the check meaningful: " + scale);
    double maxDiff = 0;
    for (int i = 0; i < logits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(logits[i] - ref.logits()[i]));
    }
    System.out.printf("full model: loss djl %.8f ref %.8f; max |dlogit| %.3e of max |logit| %.3f%n",
        loss.loss(), ref.loss(), maxDiff, scale);
    assertTrue(maxDiff <= 1e-4 * scale, "max logit diff " + maxDiff + " vs scale " + scale);
    assertEquals(ref.loss(), loss.loss(), 1e-4 * ref.loss());
    assertTrue(ref.loss() > 1 && Math.abs(ref.loss() - Math.log(1024)) > 0.5,
        "loss should differ from uniform: " + ref.loss());
  }

  /**
   * A SkipPipe path with a skip and a swap ([0, 2, 1, 4]: stages 3 and 5 omitted, 1 after 2): the
   * loss agrees with the reference, and the gradients of weights in six different tensors (in
   * stages 0, 1, 2 and 4, head and embedding included) agree with central differences of the
   * reference loss.
   */
  @Test
  void skippingSwappedPathLossAndGradientsAgreeWithFiniteDifferences() {
    int[] path = {0, 2, 1, 4};
    TokenBatch batch = TokenBatch.of(tokens, T);
    for (StageModel s : stages) {
      boolean visited = java.util.Arrays.stream(path).anyMatch(p -> p == s.stage());
      s.zeroGradients(visited ? List.of(2) : List.of());
    }
    float[] h = forwardPath(2, path, batch.inputIds());
    churnMemory(); // what a busy executor does between a microbatch's forward and its backward
    LossResult<float[]> r = stages.get(0).lossAndBackwardStart(2, h, batch.targets(), 1f);
    float[] g = r.gradHidden();
    for (int i = path.length - 1; i >= 0; i--) {
      g = stages.get(path[i]).backward(2, g);
    }
    List<Integer> layers = ReferenceLlama.layersOfPath(path, 2);
    double refLoss = reference.forward(tokens, B, T, layers).loss();
    assertEquals(refLoss, r.loss(), 1e-4 * refLoss);

    String[] names = {
      LlamaTensors.EMBED, LlamaTensors.layer(1, "self_attn.q_proj"),
      LlamaTensors.layer(4, "self_attn.k_proj"), LlamaTensors.layer(3, "mlp.down_proj"),
      LlamaTensors.layer(8, "input_layernorm"), LlamaTensors.LM_HEAD, LlamaTensors.NORM,
      LlamaTensors.layer(9, "self_attn.v_proj")
    };
    int[] stageOf = {0, 0, 2, 1, 4, 0, 0, 4};
    for (int k = 0; k < names.length; k++) {
      float[] grad = gradientOf(stages.get(stageOf[k]), names[k]);
      int idx = argMaxAbs(grad); // the most sensitive weight: a large, meaningful derivative
      double fd = reference.finiteDifference(names[k], idx, 1e-4, tokens, B, T, layers);
      System.out.printf("%-45s [%6d] djl %+.6e  fd %+.6e%n", names[k], idx, grad[idx], fd);
      assertTrue(Math.abs(fd) > 1e-5, names[k] + ": derivative too small to compare: " + fd);
      assertEquals(fd, grad[idx], 2e-3 * Math.abs(fd) + 1e-7, names[k] + "[" + idx + "]");
    }
    // Stages 3 and 5 were skipped: their gradients are zero.
    assertEquals(0.0, stages.get(3).gradientSumOfSquares());
    assertEquals(0.0, stages.get(5).gradientSumOfSquares());
    stages.forEach(s -> s.zeroGradients(List.of()));
  }

  /**
   * Perplexity with stages omitted (the layer-omission experiment; model-core's {@code
   * Perplexity}) equals exp of the reference's mean loss over the kept stages in original order.
   */
  @Test
  void perplexityWithOmittedStagesAgreesWithTheReference() {
    List<int[]> seqs = new ArrayList<>();
    for (int b = 0; b < B; b++) {
      seqs.add(java.util.Arrays.copyOfRange(tokens, b * (T + 1), (b + 1) * (T + 1)));
    }
    io.skippipe.model.eval.Perplexity.Result p = io.skippipe.model.eval.Perplexity.evaluate(
        stages, seqs, java.util.Set.of(2, 4), 1);
    double ref = reference.forward(tokens, B, T, ReferenceLlama.layersOfPath(new int[] {0, 1, 3,
        5}, 2)).loss();
    assertEquals(B * T, p.tokens());
    assertEquals(ref, p.meanNll(), 1e-4 * ref);
    assertEquals(Math.exp(ref), p.perplexity(), 1e-4 * Math.exp(ref));
  }

  /**
   * Collects garbage and reuses freed native memory, so that any tensor of the autograd graph that
   * still points at a released Java buffer (e.g. a scalar made by {@code mul(Number)} on the grad
   * path) is overwritten before the backward reads it. Found this way: NaN gradients in training.
   */
  static void churnMemory() {
    for (int round = 0; round < 3; round++) {
      System.gc();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
        for (int i = 0; i < 50; i++) {
          float[] junk = new float[1 + (i * 7919) % 4096];
          java.util.Arrays.fill(junk, Float.NaN);
          m.create(junk).mul(m.create(new float[] {Float.POSITIVE_INFINITY}));
        }
      }
    }
  }

  static float[] gradientOf(StageModel stage, String name) {
    float[] flat = stage.flatGradients();
    int offset = 0;
    for (Map.Entry<String, long[]> e : stage.parameterShapes().entrySet()) {
      int n = (int) LlamaTensors.numel(e.getValue());
      if (e.getKey().equals(name)) {
        float[] g = new float[n];
        System.arraycopy(flat, offset, g, 0, n);
        return g;
      }
      offset += n;
    }
    throw new IllegalArgumentException(name + " not in stage " + stage.stage());
  }

  static int argMaxAbs(float[] a) {
    int best = 0;
    for (int i = 1; i < a.length; i++) {
      if (Math.abs(a[i]) > Math.abs(a[best])) {
        best = i;
      }
    }
    return best;
  }

  static Map<String, float[]> copy(Map<String, float[]> w) {
    Map<String, float[]> c = new HashMap<>();
    w.forEach((k, v) -> c.put(k, v.clone()));
    return c;
  }
}
