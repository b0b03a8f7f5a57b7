package io.skippipe.model.weights;

import io.skippipe.model.weights.Safetensors.Tensor;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-stage checkpoint files: the stage's weights under their Hugging Face names (a valid
 * safetensors file that {@code transformers} can read, metadata {@code format=pt}) and, next to it,
 * the AdamW state as {@code optimizer.m.<hf name>}, {@code optimizer.v.<hf name>} with the step
 * count in the metadata key {@code optimizer.step}. Both are checked on load against the tensors
 * the stage must hold ({@link LlamaTensors#stage}), so a file of another model or stage fails with
 * a message naming the tensor. The stream forms let the runtime write to any Hadoop FileSystem.
 */
public final class StageCheckpoint {
  private StageCheckpoint() {}

  /** File name of a stage's weights inside a checkpoint directory. */
  public static String weightsFile(int stage) {
    return String.format("stage-%02d.safetensors", stage);
  }

  /** File name of a stage's optimizer state inside a checkpoint directory. */
  public static String optimizerFile(int stage) {
    return String.format("stage-%02d.optimizer.safetensors", stage);
  }

  /** Metadata key of the AdamW step count. */
  public static final String STEP_KEY = "optimizer.step";

  /**
   * AdamW state of one stage.
   *
   * @param m first moments by HF tensor name
   * @param v second moments by HF tensor name
   * @param step optimizer steps taken (for bias correction)
   */
  public record OptimizerState(Map<String, Tensor> m, Map<String, Tensor> v, long step) {
    public OptimizerState {
      if (step < 0) {
        throw new IllegalArgumentException("optimizer step " + step + " is negative");
      }
      if (!m.keySet().equals(v.keySet())) {
        throw new IllegalArgumentException(
            "optimizer m and v cover different tensors: " + m.keySet() + " vs " + v.keySet());
      }
    }
  }

  /** Writes a stage's weights (checked against the stage's expected tensors first). */
  public static void writeWeights(
      OutputStream out, HfConfig c, int stage, int layersPerStage, Map<String, Tensor> weights)
      throws IOException {
    String what = "stage " + stage + " (" + layersPerStage + " layers per stage)";
    Safetensors.checkShapes(
        Safetensors.shapesOf(weights), LlamaTensors.stage(c, stage, layersPerStage), "weights to"
            + " save", what);
    Safetensors.write(out, ordered(weights, LlamaTensors.stage(c, stage, layersPerStage)),
        metadata(stage, layersPerStage));
  }

  /** Reads and checks a stage's weights. */
  public static Map<String, Tensor> readWeights(
      InputStream in, long length, String source, HfConfig c, int stage, int layersPerStage)
      throws IOException {
    Safetensors.Contents read = Safetensors.read(in, length, source);
    Safetensors.checkShapes(
        Safetensors.shapesOf(read.tensors()), LlamaTensors.stage(c, stage, layersPerStage),
        source, "stage " + stage + " (" + layersPerStage + " layers per stage, hidden "
            + c.hiddenSize() + ", vocab " + c.vocabSize() + ")");
    return read.tensors();
  }

  /** Writes a stage's optimizer state; m and v must have the stage's tensor names and shapes. */
  public static void writeOptimizer(
      OutputStream out, HfConfig c, int stage, int layersPerStage, OptimizerState s)
      throws IOException {
    Map<String, long[]> expected = LlamaTensors.stage(c, stage, layersPerStage);
    String what = "stage " + stage + " optimizer state";
    Safetensors.checkShapes(Safetensors.shapesOf(s.m()), expected, "optimizer m to save", what);
    Safetensors.checkShapes(Safetensors.shapesOf(s.v()), expected, "optimizer v to save", what);
    Map<String, Tensor> all = new LinkedHashMap<>();
    for (String name : expected.keySet()) {
      all.put("optimizer.m." + name, s.m().get(name));
    }
    for (String name : expected.keySet()) {
      all.put("optimizer.v." + name, s.v().get(name));
    }
    Map<String, String> meta = metadata(stage, layersPerStage);
    meta.put(STEP_KEY, Long.toString(s.step()));
    Safetensors.write(out, all, meta);
  }

  /** Reads and checks a stage's optimizer state. */
  public static OptimizerState readOptimizer(
      InputStream in, long length, String source, HfConfig c, int stage, int layersPerStage)
      throws IOException {
    Safetensors.Contents read = Safetensors.read(in, length, source);
    Map<String, long[]> expected = new LinkedHashMap<>();
    LlamaTensors.stage(c, stage, layersPerStage).forEach((k, v) -> {
      expected.put("optimizer.m." + k, v);
      expected.put("optimizer.v." + k, v);
    });
    Safetensors.checkShapes(Safetensors.shapesOf(read.tensors()), expected, source,
        "the optimizer state of stage " + stage + " (" + layersPerStage + " layers per stage)");
    String step = read.metadata().get(STEP_KEY);
    long steps;
    try {
      steps = Long.parseLong(step);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(source + " has __metadata__ " + STEP_KEY + " = " + step
          + "; expected the optimizer step count as a whole number. The file is not an optimizer"
          + " checkpoint of ours; load the matching " + optimizerFile(stage));
    }
    Map<String, Tensor> m = new LinkedHashMap<>();
    Map<String, Tensor> v = new LinkedHashMap<>();
    read.tensors().forEach((k, t) -> {
      if (k.startsWith("optimizer.m.")) {
        m.put(k.substring("optimizer.m.".length()), t);
      } else {
        v.put(k.substring("optimizer.v.".length()), t);
      }
    });
    return new OptimizerState(m, v, steps);
  }

  /** Saves a stage's weights and (if not null) optimizer state into a local directory. */
  public static void save(Path dir, HfConfig c, int stage, int layersPerStage,
      Map<String, Tensor> weights, OptimizerState optimizer) throws IOException {
    Files.createDirectories(dir);
    atomically(dir.resolve(weightsFile(stage)), out -> writeWeights(out, c, stage, layersPerStage,
        weights));
    if (optimizer != null) {
      atomically(dir.resolve(optimizerFile(stage)), out -> writeOptimizer(out, c, stage,
          layersPerStage, optimizer));
    }
  }

  /** Loads a stage's weights from a local directory written by {@link #save}. */
  public static Map<String, Tensor> loadWeights(Path dir, HfConfig c, int stage, int layersPerStage)
      throws IOException {
    Path f = existing(dir.resolve(weightsFile(stage)));
    try (InputStream in = new BufferedInputStream(Files.newInputStream(f), 1 << 20)) {
      return readWeights(in, Files.size(f), f.toString(), c, stage, layersPerStage);
    }
  }

  /** Loads a stage's optimizer state from a local directory written by {@link #save}. */
  public static OptimizerState loadOptimizer(Path dir, HfConfig c, int stage, int layersPerStage)
      throws IOException {
    Path f = existing(dir.resolve(optimizerFile(stage)));
    try (InputStream in = new BufferedInputStream(Files.newInputStream(f), 1 << 20)) {
      return readOptimizer(in, Files.size(f), f.toString(), c, stage, layersPerStage);
    }
  }

  static Path existing(Path f) {
    if (!Files.isRegularFile(f)) {
      throw new IllegalArgumentException(f + " does not exist; point at a checkpoint directory"
          + " that holds it (a stage's files are " + "stage-NN.safetensors and"
          + " stage-NN.optimizer.safetensors)");
    }
    return f;
  }

  interface Writer {
    void write(OutputStream out) throws IOException;
  }

  static void atomically(Path file, Writer w) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
      w.write(out);
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  private static Map<String, String> metadata(int stage, int layersPerStage) {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    meta.put("skippipe.stage", Integer.toString(stage));
    meta.put("skippipe.layers_per_stage", Integer.toString(layersPerStage));
    return meta;
  }

  private static Map<String, Tensor> ordered(Map<String, Tensor> t, Map<String, long[]> order) {
    Map<String, Tensor> m = new LinkedHashMap<>();
    for (String name : order.keySet()) {
      m.put(name, t.get(name));
    }
    return m;
  }
}
