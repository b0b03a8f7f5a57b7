package io.skippipe.model.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.LlamaTensors;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Checks of the reference implementation on its own, against properties that need no DJL. */
class ReferenceLlamaTest {
  /** A small config: 2 layers, 4 query heads sharing 2 kv heads, head size 8. */
  static final HfConfig SMALL = new HfConfig(32, 48, 4, 2, 2, 50, 1e-5, 10000, 16, 0, 0);

  /**
   * Random weights large enough that attention is far from uniform: matrices normal with std
   * {@code scale/sqrt(in)}, norm weights {@code 1 + 0.1·normal}.
   */
  public static Map<String, float[]> randomWeights(HfConfig c, long seed, double scale) {
    Map<String, float[]> w = new LinkedHashMap<>();
    SplittableRandom r = new SplittableRandom(seed);
    LlamaTensors.model(c).forEach((name, shape) -> {
      float[] d = new float[(int) LlamaTensors.numel(shape)];
      double std = shape.length == 2 ? scale / Math.sqrt(shape[1]) : 0.1;
      for (int i = 0; i < d.length; i++) {
        d[i] = (float) ((shape.length == 1 ? 1 : 0) + std * r.nextGaussian());
      }
      if (name.equals(LlamaTensors.EMBED)) {
        for (int i = 0; i < d.length; i++) {
          d[i] = (float) r.nextGaussian();
        }
      }
      w.put(name, d);
    });
    return w;
  }

  static int[] tokens(int batch, int seqLen, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[batch * (seqLen + 1)];
    for (int i = 0; i < t.length; i++) {
      t[i] = r.nextInt(vocab);
    }
    return t;
  }

  @Test
  void zeroHeadGivesUniformPredictionsWithLossLnV() {
    Map<String, float[]> w = randomWeights(SMALL, 1, 1.0);
    Arrays.fill(w.get(LlamaTensors.LM_HEAD), 0f);
    ReferenceLlama m = new ReferenceLlama(SMALL, w);
    double loss = m.forward(tokens(2, 16, 50, 2), 2, 16, m.allLayers()).loss();
    assertEquals(Math.log(50), loss, 1e-12);
  }

  @Test
  void attentionIsCausal() {
    ReferenceLlama m = new ReferenceLlama(SMALL, randomWeights(SMALL, 3, 1.0));
    int[] a = tokens(1, 16, 50, 4);
    int[] b = a.clone();
    b[15] = (b[15] + 1) % 50; // the last input position
    double[] la = m.forward(a, 1, 16, m.allLayers()).logits();
    double[] lb = m.forward(b, 1, 16, m.allLayers()).logits();
    for (int i = 0; i < 15 * 50; i++) {
      assertEquals(la[i], lb[i], 0.0, "position " + i / 50 + " saw a later token");
    }
    assertNotEquals(la[15 * 50], lb[15 * 50]);
  }

  /** GQA with 2 kv heads equals full multi-head attention whose kv heads are duplicated per group. */
  @Test
  void groupedQueryAttentionEqualsDuplicatedKeyValueHeads() {
    Map<String, float[]> w = randomWeights(SMALL, 5, 1.0);
    HfConfig mha = new HfConfig(32, 48, 4, 4, 2, 50, 1e-5, 10000, 16, 0, 0);
    Map<String, float[]> w2 = new HashMap<>(w);
    int hd = 8;
    for (int l = 0; l < 2; l++) {
      for (String p : List.of("self_attn.k_proj", "self_attn.v_proj")) {
        float[] kv = w.get(LlamaTensors.layer(l, p)); // [2*hd, 32]
        float[] full = new float[4 * hd * 32];
        for (int h = 0; h < 4; h++) {
          System.arraycopy(kv, (h / 2) * hd * 32, full, h * hd * 32, hd * 32);
        }
        w2.put(LlamaTensors.layer(l, p), full);
      }
    }
    int[] t = tokens(2, 16, 50, 6);
    ReferenceLlama gqa = new ReferenceLlama(SMALL, w);
    ReferenceLlama full = new ReferenceLlama(mha, w2);
    assertEquals(gqa.forward(t, 2, 16, gqa.allLayers()).loss(),
        full.forward(t, 2, 16, full.allLayers()).loss(), 1e-12);
  }

  /** Rotary embeddings make q·k depend on positions only through their difference. */
  @Test
  void ropeScoresDependOnlyOnRelativePosition() {
    ReferenceLlama m = new ReferenceLlama(SMALL, randomWeights(SMALL, 7, 1.0));
    SplittableRandom r = new SplittableRandom(8);
    double[] q = new double[32];
    double[] k = new double[32];
    for (int i = 0; i < 32; i++) {
      q[i] = r.nextGaussian();
      k[i] = r.nextGaussian();
    }
    double s1 = dot(m.rope(q, 4, 7), m.rope(k, 4, 3));
    double s2 = dot(m.rope(q, 4, 12), m.rope(k, 4, 8));
    assertEquals(s1, s2, 1e-9);
    assertTrue(Math.abs(s1 - dot(m.rope(q, 4, 7), m.rope(k, 4, 4))) > 1e-6);
    // Position 0 is the identity.
    assertEquals(Arrays.toString(q), Arrays.toString(m.rope(q, 4, 0)));
  }

  @Test
  void pathLayerOrderRunsStageZeroFirstThenTheListedStages() {
    assertEquals(List.of(0, 1, 4, 5, 2, 3, 8, 9), ReferenceLlama.layersOfPath(new int[] {0, 2, 1, 4}, 2));
    ReferenceLlama m = new ReferenceLlama(SMALL, randomWeights(SMALL, 9, 1.0));
    int[] t = tokens(1, 16, 50, 10);
    double full = m.forward(t, 1, 16, List.of(0, 1)).loss();
    assertNotEquals(full, m.forward(t, 1, 16, List.of(1, 0)).loss(), "order must matter");
    assertNotEquals(full, m.forward(t, 1, 16, List.of(0)).loss(), "skipping must matter");
  }

  /**
   * The reference on llama-tiny reproduces the values committed in golden/reference-tiny.json (so a
   * change to the reference itself cannot go unnoticed; the DJL side is compared to it live).
   */
  @Test
  void reproducesTheGoldenValuesOfTheTinyModel() throws java.io.IOException {
    com.fasterxml.jackson.databind.JsonNode g;
    try (var in = getClass().getResourceAsStream("/golden/reference-tiny.json")) {
      g = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
    }
    HfConfig tiny = HfConfig.llamaTiny();
    ReferenceLlama m = new ReferenceLlama(tiny, randomWeights(tiny, 11, 1.0));
    int[] t = tokens(2, 64, 1024, 12);
    ReferenceLlama.Output full = m.forward(t, 2, 64, m.allLayers());
    assertEquals(g.get("fullLoss").asDouble(), full.loss(), 1e-12);
    assertEquals(g.get("path_0_2_1_4_Loss").asDouble(),
        m.forward(t, 2, 64, ReferenceLlama.layersOfPath(new int[] {0, 2, 1, 4}, 2)).loss(), 1e-12);
    for (int i = 0; i < 8; i++) {
      assertEquals(g.get("fullLogitsFirst8").get(i).asDouble(), full.logits()[i], 1e-12);
    }
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
