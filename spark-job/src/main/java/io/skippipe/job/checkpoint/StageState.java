package io.skippipe.job.checkpoint;

import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.StageCheckpoint;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Where a stage replica's checkpoint files live in a {@link CheckpointStore} ({@code
 * step-N/stage-SS/replica-R/}{@link StageCheckpoint#WEIGHTS} and {@link
 * StageCheckpoint#OPTIMIZER}); the format itself, streamed tensor by tensor, is {@link
 * StageCheckpoint}'s, the one per-stage format of the project.
 */
public final class StageState {
  public static final String WEIGHTS = StageCheckpoint.WEIGHTS;
  public static final String OPTIMIZER = StageCheckpoint.OPTIMIZER;
  private static final int BUFFER_BYTES = 1 << 20;

  private StageState() {}

  /** Writes the replica's weights and optimizer state for {@code step}. */
  public static void save(CheckpointStore store, long step, int stage, int replica,
      StageModel model, AdamW optimizer) throws IOException {
    try (OutputStream out = new BufferedOutputStream(
        store.create(step, CheckpointStore.replicaFile(stage, replica, WEIGHTS)), BUFFER_BYTES)) {
      StageCheckpoint.writeWeights(out, model);
    }
    try (OutputStream out = new BufferedOutputStream(
        store.create(step, CheckpointStore.replicaFile(stage, replica, OPTIMIZER)),
        BUFFER_BYTES)) {
      StageCheckpoint.writeOptimizer(out, model, optimizer);
    }
  }

  /** Loads weights and optimizer state of {@code step} into a freshly built stage. */
  public static void load(CheckpointStore store, long step, int stage, int replica,
      StageModel model, AdamW optimizer) throws IOException {
    String weights = CheckpointStore.replicaFile(stage, replica, WEIGHTS);
    try (InputStream in = new BufferedInputStream(store.open(step, weights), BUFFER_BYTES)) {
      StageCheckpoint.readWeights(in, where(store, step, weights), model);
    }
    String optimizerFile = CheckpointStore.replicaFile(stage, replica, OPTIMIZER);
    try (InputStream in = new BufferedInputStream(store.open(step, optimizerFile), BUFFER_BYTES)) {
      StageCheckpoint.readOptimizer(in, where(store, step, optimizerFile), model, optimizer);
    }
  }

  /**
   * Loads only the weights of a stage at {@code step} (replica 0: the replicas of a stage hold the
   * same weights after each step's all-reduce) into {@code model}: evaluation and inference.
   */
  public static void loadWeights(CheckpointStore store, long step, int stage, StageModel model)
      throws IOException {
    String weights = CheckpointStore.replicaFile(stage, 0, WEIGHTS);
    try (InputStream in = new BufferedInputStream(store.open(step, weights), BUFFER_BYTES)) {
      StageCheckpoint.readWeights(in, where(store, step, weights), model);
    }
  }

  /**
   * The architecture a committed step records in stage 0's weights metadata (dimensions, RMSNorm
   * epsilon, RoPE theta, tied embeddings, the training sequence length), or null for a checkpoint
   * written before it was recorded.
   */
  public static io.skippipe.model.LlamaConfig recordedModel(CheckpointStore store, long step)
      throws IOException {
    String weights = CheckpointStore.replicaFile(0, 0, WEIGHTS);
    try (InputStream in = store.open(step, weights)) {
      return StageCheckpoint.modelOf(in, where(store, step, weights));
    }
  }

  /** The full name of a step's file, for messages. */
  public static String where(CheckpointStore store, long step, String relPath) {
    return store.root() + "/" + CheckpointStore.stepDir(step) + "/" + relPath;
  }
}
