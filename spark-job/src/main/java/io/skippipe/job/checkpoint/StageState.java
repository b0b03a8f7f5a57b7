package io.skippipe.job.checkpoint;

import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.Safetensors;
import io.skippipe.model.weights.Safetensors.Tensor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A stage replica's checkpoint files: {@code weights.safetensors} (HF names) and
 * {@code optimizer.safetensors} (AdamW moments, {@code <name>.exp_avg}/{@code .exp_avg_sq}, with
 * the optimizer step in the metadata).
 */
public final class StageState {
  public static final String WEIGHTS = "weights.safetensors";
  public static final String OPTIMIZER = "optimizer.safetensors";
  private static final String STEP = "optimizer.step";

  private StageState() {}

  /** Writes the replica's weights and optimizer state for {@code step}. */
  public static void save(CheckpointStore store, long step, int stage, int replica,
      StageModel model, AdamW optimizer) throws IOException {
    Map<String, long[]> shapes = model.parameterShapes();
    Map<String, Tensor> weights = new LinkedHashMap<>();
    model.exportWeights().forEach((k, v) -> weights.put(k, new Tensor(shapes.get(k), v)));
    write(store, step, CheckpointStore.replicaFile(stage, replica, WEIGHTS), weights,
        Map.of("format", "pt"));
    Map<String, Tensor> opt = new LinkedHashMap<>();
    optimizer.exportState().forEach((k, v) -> opt.put(k, new Tensor(new long[] {v.length}, v)));
    write(store, step, CheckpointStore.replicaFile(stage, replica, OPTIMIZER), opt,
        Map.of(STEP, Long.toString(optimizer.step())));
  }

  /** Loads weights and optimizer state of {@code step} into a freshly built stage. */
  public static void load(CheckpointStore store, long step, int stage, int replica,
      StageModel model, AdamW optimizer) throws IOException {
    Safetensors.Contents w = read(store, step, CheckpointStore.replicaFile(stage, replica, WEIGHTS));
    Map<String, float[]> weights = new LinkedHashMap<>();
    w.tensors().forEach((k, v) -> weights.put(k, v.data()));
    model.importWeights(weights);
    Safetensors.Contents o = read(store, step, CheckpointStore.replicaFile(stage, replica, OPTIMIZER));
    Map<String, float[]> state = new LinkedHashMap<>();
    o.tensors().forEach((k, v) -> state.put(k, v.data()));
    optimizer.importState(state, Long.parseLong(o.metadata().get(STEP)));
  }

  /** The weights file of a stage at a step (replica 0; all replicas of a stage are identical). */
  public static Safetensors.Contents weights(CheckpointStore store, long step, int stage)
      throws IOException {
    return read(store, step, CheckpointStore.replicaFile(stage, 0, WEIGHTS));
  }

  private static void write(CheckpointStore store, long step, String file,
      Map<String, Tensor> t, Map<String, String> meta) throws IOException {
    try (OutputStream out = store.create(step, file)) {
      Safetensors.write(out, t, meta);
    }
  }

  private static Safetensors.Contents read(CheckpointStore store, long step, String file)
      throws IOException {
    byte[] b;
    try (InputStream in = store.open(step, file)) {
      b = in.readAllBytes();
    }
    return Safetensors.read(new ByteArrayInputStream(b), b.length, file);
  }
}
