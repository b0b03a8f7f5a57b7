package io.skippipe.model.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.ParameterLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StageModelTest {
  static final LlamaConfig CFG = LlamaConfig.of(16, 4, 4, 2, 24, 32, 8, 2);

  @Test
  void stageBuiltAloneEqualsTheSameStageInTheUnsplitModel() {
    LlamaConfig whole = LlamaConfig.of(16, 4, 4, 2, 24, 32, 8, 4);
    try (StageModel all = StageModel.create(whole, 0, 11);
        StageModel s0 = StageModel.create(CFG, 0, 11);
        StageModel s1 = StageModel.create(CFG, 1, 11)) {
      Map<String, float[]> w = all.exportWeights();
      assertEquals(ParameterLayout.forModel(CFG).size(), w.size());
      for (StageModel s : List.of(s0, s1)) {
        for (Map.Entry<String, float[]> e : s.exportWeights().entrySet()) {
          assertArrayEquals(w.get(e.getKey()), e.getValue(), e.getKey());
        }
      }
      assertEquals(CFG.parameterCount(), s0.parameterCount() + (long) s1.parameterCount());
      assertEquals(
          List.of(
              "model.layers.2.input_layernorm.weight", "model.layers.2.self_attn.q_proj.weight"),
          s1.parameterNames().subList(0, 2));
      assertArrayEquals(
          new long[] {8, 16}, s1.parameterShapes().get("model.layers.2.self_attn.k_proj.weight"));
    }
  }

  @Test
  void weightsRoundTripAndMismatchesAreClearErrors() {
    try (StageModel a = StageModel.create(CFG, 1, 1);
        StageModel b = StageModel.create(CFG, 1, 2)) {
      b.importWeights(a.exportWeights());
      assertEquals(a.exportWeights().keySet(), b.exportWeights().keySet());
      for (Map.Entry<String, float[]> e : a.exportWeights().entrySet()) {
        assertArrayEquals(e.getValue(), b.exportWeights().get(e.getKey()));
      }
      Map<String, float[]> bad = new java.util.HashMap<>(a.exportWeights());
      bad.put("model.layers.2.mlp.up_proj.weight", new float[3]);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> b.importWeights(bad));
      assertTrue(e.getMessage().contains("model.layers.2.mlp.up_proj.weight"), e.getMessage());
      bad.remove("model.layers.2.mlp.up_proj.weight");
      assertThrows(IllegalArgumentException.class, () -> b.importWeights(bad));
    }
  }

  /** Regression: NDArray.set(float[]) on a gradient wrapper left .grad pointing at freed memory. */
  @Test
  void gradientsWrittenFromTheHostSurviveGarbageCollection() {
    try (StageModel s = StageModel.create(CFG, 1, 1)) {
      float[] g = new float[s.parameterCount()];
      for (int i = 0; i < g.length; i++) {
        g[i] = i * 1e-3f;
      }
      s.setFlatGradients(g);
      List<byte[]> churn = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        churn.add(new byte[1 << 20]);
        java.nio.ByteBuffer.allocateDirect(1 << 16);
      }
      System.gc();
      assertArrayEquals(g, s.flatGradients());
      s.zeroGradients(List.of());
      assertEquals(0.0, s.gradientSumOfSquares());
      assertTrue(churn.size() > 0);
    }
  }

  @Test
  void memoryCapDuplicatesAndBadInputsAreRejected() {
    try (StageModel s1 = StageModel.create(CFG, 1, 1, 2);
        StageModel s0 = StageModel.create(CFG, 0, 1)) {
      s1.zeroGradients(List.of(0, 1));
      float[] h = new float[2 * 8 * 16];
      s1.forward(0, h);
      assertThrows(IllegalStateException.class, () -> s1.forward(0, h));
      s1.forward(1, h);
      IllegalStateException cap = assertThrows(IllegalStateException.class, () -> s1.forward(2, h));
      assertTrue(cap.getMessage().contains("memory cap"), cap.getMessage());
      s1.abort(1);
      assertEquals(1, s1.inFlight());
      assertEquals(h.length, s1.backward(0, new float[h.length]).length);
      assertThrows(IllegalStateException.class, () -> s1.backward(0, new float[h.length]));
      assertThrows(IllegalArgumentException.class, () -> s1.forward(3, new float[5]));
      assertThrows(IllegalStateException.class, () -> s1.forwardTokens(3, new int[8]));
      IllegalArgumentException id =
          assertThrows(
              IllegalArgumentException.class,
              () -> s0.forwardTokens(0, new int[] {0, 1, 2, 3, 4, 5, 6, 32}));
      assertTrue(id.getMessage().contains("vocabulary"), id.getMessage());
      assertEquals(0, s0.inFlight());
      assertThrows(IllegalStateException.class, () -> s0.forward(0, h));
    }
  }

  @Test
  void configPresetsLoadAndInvalidConfigsNameTheRule() {
    LlamaConfig tiny = LlamaConfig.preset("llama-tiny");
    assertEquals(64, tiny.dim());
    assertEquals(6, tiny.stages());
    assertEquals(1e-5, tiny.normEps());
    LlamaConfig big = LlamaConfig.preset("llama-8b");
    assertEquals(8, big.kvHeads());
    assertEquals(128, big.headDim());
    assertEquals(1024, LlamaConfig.preset("llama-500m").dim());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> LlamaConfig.of(30, 4, 4, 2, 8, 8, 8, 2));
    assertTrue(e.getMessage().contains("not divisible by heads"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.of(32, 5, 4, 2, 8, 8, 8, 2));
    assertTrue(e.getMessage().contains("layersPerStage"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.of(32, 4, 4, 3, 8, 8, 8, 2));
    assertTrue(e.getMessage().contains("kvHeads"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.preset("llama-nope"));
    assertTrue(e.getMessage().contains("llama-tiny"), e.getMessage());
  }
}
