package io.skippipe.job.checkpoint;

import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.Safetensors;
import io.skippipe.model.weights.Safetensors.Tensor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
    store.write(step, stage, replica, WEIGHTS, bytes(weights, Map.of("format", "pt")));
    Map<String, Tensor> opt = new LinkedHashMap<>();
    optimizer.exportState().forEach((k, v) -> opt.put(k, new Tensor(new long[] {v.length}, v)));
    store.write(step, stage, replica, OPTIMIZER,
        bytes(opt, Map.of(STEP, Long.toString(optimizer.step()))));
  }

  /** Loads weights and optimizer state of {@code step} into a freshly built stage. */
  public static void load(CheckpointStore store, long step, int stage, int replica,
      StageModel model, AdamW optimizer) throws IOException {
    Safetensors.Contents w = read(store.read(step, stage, replica, WEIGHTS), "weights");
    Map<String, float[]> weights = new LinkedHashMap<>();
    w.tensors().forEach((k, v) -> weights.put(k, v.data()));
    model.importWeights(weights);
    Safetensors.Contents o = read(store.read(step, stage, replica, OPTIMIZER), "optimizer");
    Map<String, float[]> state = new LinkedHashMap<>();
    o.tensors().forEach((k, v) -> state.put(k, v.data()));
    optimizer.importState(state, Long.parseLong(o.metadata().get(STEP)));
  }

  private static byte[] bytes(Map<String, Tensor> t, Map<String, String> meta) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Safetensors.write(out, t, meta);
    return out.toByteArray();
  }

  private static Safetensors.Contents read(byte[] b, String what) throws IOException {
    return Safetensors.read(new ByteArrayInputStream(b), b.length, what);
  }
}
