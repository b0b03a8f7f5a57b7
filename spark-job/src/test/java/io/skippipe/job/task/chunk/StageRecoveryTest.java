package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.role.Roles;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.stage.StageModel;
import java.io.File;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The CheckFree rebuild of a lost stage against plain loops over the neighbours' exported weights:
 * layer j of stage i = lowerWeight · layer j of the stage below + upperWeight · layer j of the
 * stage above; stage 0 is a copy of stage 1's layers with its own embedding, norm and head from
 * the commit; the last stage is a copy of the one before.
 */
class StageRecoveryTest {
  static final LlamaConfig TOY = Models.llama(TestPlans.MODEL); // 4 stages of 1 layer

  static CheckpointStore store(String name) throws Exception {
    return new HadoopCheckpointStore(new File("target/stage-recovery/" + name + "-"
        + System.nanoTime()).getAbsolutePath(), HadoopConfs.current());
  }

  /** Writes stage {@code s} initialised from {@code seed} at {@code step}; returns its weights. */
  static Map<String, float[]> save(CheckpointStore store, int s, long seed, long step)
      throws Exception {
    try (StageModel m = StageModel.create(TOY, s, seed); AdamW o = new AdamW(m,
        AdamWConfig.llamaDefaults())) {
      StageState.save(store, step, s, 0, m, o);
      return m.exportWeights();
    }
  }

  /** The same parameter name one or more stages away (1 layer per stage). */
  static String shifted(String name, int by) {
    String[] p = name.split("\\.", 4); // model, layers, N, rest
    return "model.layers." + (Integer.parseInt(p[2]) + by) + "." + p[3];
  }

  @Test
  void aMiddleStageIsTheGradientNormWeightedAverageOfItsNeighbours() throws Exception {
    CheckpointStore snaps = store("middle");
    Map<String, float[]> low = save(snaps, 1, 101, 7);
    Map<String, float[]> up = save(snaps, 3, 303, 7);
    double lw = 0.3;
    double uw = 0.7;
    try (StageModel target = StageModel.create(TOY, 2, 5)) {
      StageRecovery.rebuild(target, new Roles.Neighbours(2, 1, 3, lw, uw), snaps, 7, snaps, -1);
      Map<String, float[]> got = target.exportWeights();
      assertEquals(9, got.size());
      for (Map.Entry<String, float[]> e : got.entrySet()) {
        float[] a = low.get(shifted(e.getKey(), -1));
        float[] b = up.get(shifted(e.getKey(), 1));
        for (int i = 0; i < a.length; i++) {
          double want = lw * a[i] + uw * b[i];
          assertEquals(want, e.getValue()[i], 1e-7 * Math.max(1, Math.abs(want)), e.getKey());
        }
      }
    }
  }

  @Test
  void theEndStagesAreCopiesAndStageZeroKeepsItsCommittedEmbeddingAndHead() throws Exception {
    CheckpointStore snaps = store("ends");
    Map<String, float[]> s1 = save(snaps, 1, 11, 9);
    Map<String, float[]> s2 = save(snaps, 2, 22, 9);
    CheckpointStore commits = store("commit");
    Map<String, float[]> s0 = save(commits, 0, 0, 6);
    try (StageModel last = StageModel.create(TOY, 3, 5);
        StageModel first = StageModel.create(TOY, 0, 5)) {
      StageRecovery.rebuild(last, new Roles.Neighbours(3, 2, -1, 1, 0), snaps, 9, commits, 6);
      for (Map.Entry<String, float[]> e : last.exportWeights().entrySet()) {
        assertArrayEquals(s2.get(shifted(e.getKey(), -1)), e.getValue(), e.getKey());
      }
      StageRecovery.rebuild(first, new Roles.Neighbours(0, -1, 1, 0, 1), snaps, 9, commits, 6);
      int layers = 0;
      for (Map.Entry<String, float[]> e : first.exportWeights().entrySet()) {
        if (e.getKey().startsWith("model.layers.")) {
          assertArrayEquals(s1.get(shifted(e.getKey(), 1)), e.getValue(), e.getKey());
          layers++;
        } else {
          assertArrayEquals(s0.get(e.getKey()), e.getValue(), e.getKey() + " from the commit");
        }
      }
      assertEquals(9, layers);
      assertTrue(first.exportWeights().containsKey("lm_head.weight")
          || TOY.tieWordEmbeddings());
    }
  }
}
