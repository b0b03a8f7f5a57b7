package io.skippipe.model.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.train.PathTrainer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The one per-stage checkpoint format: live stage and optimizer → streams → fresh stage. */
class StageCheckpointTest {
  static final LlamaConfig CFG = LlamaConfig.of(32, 6, 4, 2, 48, 64, 8, 2);

  static PathTrainer trainer(long seed) {
    return new PathTrainer(CFG, new PathTrainer.Config(seed, AdamWConfig.llamaDefaults(),
        LrSchedule.constant(1e-2, 10), 1.0));
  }

  static void stepOnce(PathTrainer t) {
    SplittableRandom r = new SplittableRandom(5);
    int[] tokens = new int[2 * (CFG.seqLen() + 1)];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(CFG.vocab());
    }
    t.step(List.of(new PathTrainer.Microbatch(0, tokens, new int[] {0, 2, 1})));
  }

  @Test
  void weightsAndOptimizerStateRoundTripBitExactlyThroughStreams() throws IOException {
    try (PathTrainer trained = trainer(1); PathTrainer fresh = trainer(2)) {
      stepOnce(trained);
      for (int s = 0; s < CFG.stages(); s++) {
        ByteArrayOutputStream w = new ByteArrayOutputStream();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        StageCheckpoint.writeWeights(w, trained.stages().get(s));
        StageCheckpoint.writeOptimizer(o, trained.stages().get(s), trained.optimizers().get(s));
        String name = "model.layers." + (2 * s) + ".mlp.up_proj.weight";
        assertNotEquals(trained.stages().get(s).exportWeight(name)[0],
            fresh.stages().get(s).exportWeight(name)[0]);
        StageCheckpoint.readWeights(new ByteArrayInputStream(w.toByteArray()), "w", 
            fresh.stages().get(s));
        StageCheckpoint.readOptimizer(new ByteArrayInputStream(o.toByteArray()), "o",
            fresh.stages().get(s), fresh.optimizers().get(s));
        assertSame(trained.stages().get(s).exportWeights(), fresh.stages().get(s).exportWeights());
        assertSame(trained.optimizers().get(s).exportState(),
            fresh.optimizers().get(s).exportState());
        assertEquals(1, fresh.optimizers().get(s).step());
        // the weights file is a plain safetensors file with HF names and shapes
        Safetensors.Header h = Safetensors.readHeader(new ByteArrayInputStream(w.toByteArray()),
            w.size(), "w");
        assertEquals("pt", h.metadata().get("format"));
        assertEquals(trained.stages().get(s).parameterNames(),
            List.copyOf(h.entries().keySet()));
      }
      // stage 1 was on the path: its moments are not all zero
      float[] m = fresh.optimizers().get(1).exportState("model.layers.2.self_attn.q_proj.weight"
          + AdamW.EXP_AVG);
      assertTrue(java.util.stream.IntStream.range(0, m.length).anyMatch(i -> m[i] != 0));
    }
  }

  @Test
  void aFileOfAnotherStageOrModelIsRefusedBeforeAnyWeightChanges() throws IOException {
    try (PathTrainer a = trainer(1); PathTrainer b = trainer(2)) {
      ByteArrayOutputStream w = new ByteArrayOutputStream();
      StageCheckpoint.writeWeights(w, a.stages().get(1));
      Map<String, float[]> before = b.stages().get(2).exportWeights();
      String m = assertThrows(IllegalArgumentException.class, () -> StageCheckpoint.readWeights(
          new ByteArrayInputStream(w.toByteArray()), "stage-1/weights.safetensors",
          b.stages().get(2))).getMessage();
      assertTrue(m.contains("stage-1/weights.safetensors") && m.contains("model.layers.4"), m);
      assertSame(before, b.stages().get(2).exportWeights());
      byte[] cut = java.util.Arrays.copyOf(w.toByteArray(), w.size() - 100);
      m = assertThrows(IllegalArgumentException.class, () -> StageCheckpoint.readWeights(
          new ByteArrayInputStream(cut), "cut", b.stages().get(1))).getMessage();
      assertTrue(m.contains("truncated"), m);
    }
  }

  static void assertSame(Map<String, float[]> a, Map<String, float[]> b) {
    assertEquals(a.keySet(), b.keySet());
    a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));
  }
}
