package io.skippipe.model.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.StageModel;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** AdamW on NDArrays against a hand computation of the same formulas in double on the host. */
class AdamWTest {
  static final LlamaConfig CFG = LlamaConfig.of(8, 2, 2, 1, 12, 16, 4, 1);

  @Test
  void threeStepsMatchHandComputation() {
    AdamWConfig hp = new AdamWConfig(0.9, 0.95, 1e-8, 0.1);
    double[] lrs = {1e-2, 5e-3, 2e-3};
    double[] clips = {1.0, 0.5, 0.25};
    try (StageModel stage = StageModel.create(CFG, 1, 3);
        AdamW opt = new AdamW(stage, hp)) {
      Map<String, long[]> shapes = stage.parameterShapes();
      int n = stage.parameterCount();
      // host copy of the parameters, flattened in the stable order, and of the moments
      double[] p = new double[n];
      boolean[] decays = new boolean[n];
      int off = 0;
      Map<String, float[]> w = stage.exportWeights();
      for (Map.Entry<String, long[]> e : shapes.entrySet()) {
        float[] v = w.get(e.getKey());
        for (int i = 0; i < v.length; i++) {
          p[off + i] = v[i];
          decays[off + i] = e.getValue().length > 1;
        }
        off += v.length;
      }
      double[] m = new double[n];
      double[] v = new double[n];
      SplittableRandom rng = new SplittableRandom(9);
      for (int t = 1; t <= 3; t++) {
        float[] g = new float[n];
        for (int i = 0; i < n; i++) {
          g[i] = (float) (rng.nextGaussian() * 0.1);
        }
        stage.setFlatGradients(g);
        opt.step(lrs[t - 1], clips[t - 1]);
        double lr = lrs[t - 1];
        double bc1 = 1 - Math.pow(0.9, t);
        double bc2 = 1 - Math.pow(0.95, t);
        for (int i = 0; i < n; i++) {
          double gi = g[i] * clips[t - 1];
          if (decays[i]) {
            p[i] *= 1 - lr * 0.1;
          }
          m[i] = 0.9 * m[i] + 0.1 * gi;
          v[i] = 0.95 * v[i] + 0.05 * gi * gi;
          p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + 1e-8);
        }
      }
      assertEquals(3, opt.step());
      double worst = 0;
      off = 0;
      Map<String, float[]> after = stage.exportWeights();
      for (String name : shapes.keySet()) {
        float[] a = after.get(name);
        double wd = 0;
        for (int i = 0; i < a.length; i++) {
          wd = Math.max(wd, Math.abs(a[i] - p[off + i]));
        }
        System.out.printf("  %s %.3e%n", name, wd);
        worst = Math.max(worst, wd);
        off += a.length;
      }
      System.out.printf("AdamW max |NDArray - hand| after 3 steps: %.3e%n", worst);
      assertTrue(worst < 1e-6, "worst " + worst);
      // the test can fail: every parameter moved (Adam's normalised step is about lr per step)
      Map<String, float[]> initial;
      try (StageModel fresh = StageModel.create(CFG, 1, 3)) {
        initial = fresh.exportWeights();
      }
      for (String name : shapes.keySet()) {
        float[] a = after.get(name);
        float[] b = initial.get(name);
        for (int i = 0; i < a.length; i++) {
          assertTrue(Math.abs(a[i] - b[i]) > 1e-4, name + "[" + i + "] did not move");
        }
      }
    }
  }

  @Test
  void exportedStateResumesIdentically() {
    AdamWConfig hp = AdamWConfig.llamaDefaults();
    try (StageModel a = StageModel.create(CFG, 0, 5);
        StageModel b = StageModel.create(CFG, 0, 5);
        AdamW optA = new AdamW(a, hp);
        AdamW optB = new AdamW(b, hp)) {
      float[] g = new float[a.parameterCount()];
      SplittableRandom rng = new SplittableRandom(1);
      for (int i = 0; i < g.length; i++) {
        g[i] = (float) rng.nextGaussian();
      }
      a.setFlatGradients(g);
      optA.step(1e-3, 1);
      // b takes a's weights and optimizer state, then both take the same step
      b.importWeights(a.exportWeights());
      optB.importState(optA.exportState(), optA.step());
      a.setFlatGradients(g);
      b.setFlatGradients(g);
      optA.step(1e-3, 1);
      optB.step(1e-3, 1);
      for (Map.Entry<String, float[]> e : a.exportWeights().entrySet()) {
        assertArrayEquals(e.getValue(), b.exportWeights().get(e.getKey()), e.getKey());
      }
      assertTrue(optA.exportState().containsKey("lm_head.weight.exp_avg_sq"));
      assertThrows(IllegalArgumentException.class, () -> optB.importState(Map.of(), 1));
    }
  }

  @Test
  void scheduleWarmsUpThenDecaysByCosine() {
    LrSchedule s = new LrSchedule(1e-3, 1e-4, 10, 110);
    assertEquals(1e-4, s.lr(0), 1e-12);
    assertEquals(1e-3, s.lr(9), 1e-12);
    assertEquals(1e-3, s.lr(10), 1e-12);
    assertEquals(1e-4 + 0.9e-3 * 0.5, s.lr(60), 1e-12);
    assertEquals(1e-4, s.lr(110), 1e-12);
    assertEquals(1e-4, s.lr(500), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-3, 1e-4, 10, 10));
    assertEquals(
        0.5, GradientClipping.clipScale(GradientClipping.globalNorm(3, 1) * 2 - 1e-6, 2), 1e-9);
    assertEquals(1.0, GradientClipping.clipScale(0.5, 1.0));
  }
}
