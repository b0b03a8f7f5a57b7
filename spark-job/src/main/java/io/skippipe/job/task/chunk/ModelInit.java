package io.skippipe.job.task.chunk;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopFolders;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.HfFolder;
import io.skippipe.scheduler.profile.ModelSpec;
import java.io.IOException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * What a stage task builds before its first step: the model config (from the plan's spec, or from
 * {@code spark.skippipe.model.init}'s config.json cut as the plan cuts it) and, on a fresh start
 * from a Hugging Face folder, the stage's weights read from the folder — only the shards that hold
 * the stage's tensors, streamed tensor by tensor ({@link HfFolder#loadStage}).
 */
public final class ModelInit {
  private ModelInit() {}

  /**
   * The config of the model the run trains.
   *
   * @throws IllegalArgumentException when the folder's architecture no longer matches the plan (the
   *     folder changed after planning)
   */
  public static LlamaConfig llama(JobConfig cfg, ModelSpec planned, Configuration hadoop)
      throws IOException {
    if (!cfg.modelSettings().fromFolder()) {
      return Models.llama(planned);
    }
    LlamaConfig c = HadoopFolders.read(cfg.modelSettings().init(), hadoop)
        .llamaConfig(planned.seqLen(), planned.layersPerStage());
    List<Integer> folderDims = List.of(c.dim(), c.layers(), c.heads(), c.kvHeads(), c.ffnDim(),
        c.vocab());
    List<Integer> planDims = List.of(planned.dim(), planned.layers(), planned.heads(),
        planned.kvHeads(), planned.ffnDim(), planned.vocab());
    if (!folderDims.equals(planDims)) {
      throw new IllegalArgumentException(cfg.modelSettings().init() + "/config.json gives (dim,"
          + " layers, heads, kvHeads, ffnDim, vocab) " + folderDims + " but the plan was made for "
          + planDims + "; the folder changed after planning. Start a new run (run.overwrite=true)"
          + " or restore the folder");
    }
    return c;
  }

  /** Loads {@code stage}'s weights from the folder when the run starts from one; else no-op. */
  public static void loadWeights(JobConfig cfg, StageModel stage, Configuration hadoop)
      throws IOException {
    if (cfg.modelSettings().fromFolder()) {
      HadoopFolders.read(cfg.modelSettings().init(), hadoop).loadStage(stage);
    }
  }
}
