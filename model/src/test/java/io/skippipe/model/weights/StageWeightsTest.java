package io.skippipe.model.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.train.PathTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Live DJL stages saved to per-stage checkpoints and exported as one HF model, then read back. */
class StageWeightsTest {
  static final LlamaConfig TINY = LlamaConfig.of(64, 12, 4, 2, 176, 1024, 16, 2);
  static final HfConfig HF = HfConfig.from(TINY, 0, 0);

  @TempDir Path tmp;

  static PathTrainer trainedOneStep(long seed) {
    PathTrainer t = new PathTrainer(TINY, new PathTrainer.Config(seed,
        AdamWConfig.llamaDefaults(), LrSchedule.constant(1e-2, 10), 1.0));
    SplittableRandom r = new SplittableRandom(5);
    int[] tokens = new int[2 * 17];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(1024);
    }
    t.step(List.of(new PathTrainer.Microbatch(0, tokens, new int[] {0, 2, 1, 4})));
    return t;
  }

  static void assertSame(Map<String, float[]> a, Map<String, float[]> b) {
    assertEquals(a.keySet(), b.keySet());
    a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));
  }

  @Test
  void stageCheckpointsRestoreWeightsAndOptimizerStateExactly() throws IOException {
    try (PathTrainer trained = trainedOneStep(1); PathTrainer fresh = new PathTrainer(TINY,
        new PathTrainer.Config(2, AdamWConfig.llamaDefaults(), LrSchedule.constant(1e-2, 10),
            1.0))) {
      for (int s = 0; s < TINY.stages(); s++) {
        StageWeights.save(tmp, HF, trained.stages().get(s), trained.optimizers().get(s));
      }
      assertNotEquals(trained.stages().get(1).exportWeights().get(
          "model.layers.2.mlp.up_proj.weight")[0], fresh.stages().get(1).exportWeights().get(
          "model.layers.2.mlp.up_proj.weight")[0]);
      for (int s = 0; s < TINY.stages(); s++) {
        StageWeights.load(tmp, HF, fresh.stages().get(s), fresh.optimizers().get(s));
        assertSame(trained.stages().get(s).exportWeights(), fresh.stages().get(s).exportWeights());
        assertSame(trained.optimizers().get(s).exportState(),
            fresh.optimizers().get(s).exportState());
        assertEquals(1, fresh.optimizers().get(s).step());
      }
      // Stage 2's state is non-trivial (it was on the path); stage 3's moments stayed zero.
      float[] m2 = fresh.optimizers().get(2).exportState().get(
          "model.layers.4.self_attn.q_proj.weight.exp_avg");
      assertTrue(java.util.stream.IntStream.range(0, m2.length).anyMatch(i -> m2[i] != 0));
    }
  }

  @Test
  void allStagesExportAsOneModelAndImportIntoFreshStages() throws IOException {
    Path tok = io.skippipe.model.data.Corpus.copyTokenizerTo(tmp.resolve("tok"));
    try (PathTrainer trained = trainedOneStep(1); PathTrainer fresh = new PathTrainer(TINY,
        new PathTrainer.Config(3, AdamWConfig.llamaDefaults(), LrSchedule.constant(1e-2, 10),
            1.0))) {
      Path out = tmp.resolve("export");
      StageWeights.exportModel(out, HF, trained.stages(), tok, 1_000_000);
      assertTrue(Files.exists(out.resolve("model.safetensors.index.json")));
      assertTrue(Files.exists(out.resolve("config.json")));
      assertTrue(Files.exists(out.resolve("tokenizer.json")));
      assertEquals(HF, StageWeights.importModel(out, fresh.stages()));
      for (int s = 0; s < TINY.stages(); s++) {
        assertSame(trained.stages().get(s).exportWeights(), fresh.stages().get(s).exportWeights());
      }
    }
  }
}
