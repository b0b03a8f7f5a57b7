package io.skippipe.model.weights;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one per-stage checkpoint format, written and read through plain streams (a Hadoop {@code
 * FileSystem} stream, a checkpoint store's stream or a local file), tensor by tensor: at most one
 * tensor of the stage is on the Java heap at a time, and neither files nor tensors have a size
 * limit beyond a single tensor's 2^31 elements.
 *
 * <ul>
 *   <li>{@value #WEIGHTS}: the stage's float32 master weights under their Hugging Face names and
 *       shapes, a valid safetensors file ({@code __metadata__}: {@code format=pt}, {@code
 *       skippipe.stage}, {@code skippipe.layers_per_stage} and {@value #MODEL_KEY}, the model's
 *       config as JSON: a checkpoint names the architecture it belongs to, including what no
 *       tensor shape shows — RMSNorm epsilon, RoPE theta, tied embeddings).
 *   <li>{@value #OPTIMIZER}: the AdamW moments {@code <name>.exp_avg} and {@code <name>.exp_avg_sq}
 *       with the parameter's shape, and the step count in {@code __metadata__} key {@value
 *       #STEP_KEY}.
 * </ul>
 *
 * Reading checks the header first, before any data is read: exactly the stage's tensor names, each
 * with its shape; a file of another model or stage fails naming the tensor and both shapes.
 */
public final class StageCheckpoint {
  private StageCheckpoint() {}

  /** File name of a stage's weights. */
  public static final String WEIGHTS = "weights.safetensors";

  /** File name of a stage's optimizer state. */
  public static final String OPTIMIZER = "optimizer.safetensors";

  /** Metadata key of the model config ({@link LlamaConfig#toJson()}). */
  public static final String MODEL_KEY = "skippipe.model";

  /** Metadata key of the AdamW step count. */
  public static final String STEP_KEY = "optimizer.step";

  /** Writes {@code stage}'s weights to {@code out} (not closed). */
  public static void writeWeights(OutputStream out, StageModel stage) throws IOException {
    Map<String, long[]> shapes = stage.parameterShapes();
    Safetensors.write(out, shapes, metadata(stage), new OneTensorAtATime(stage::exportWeight));
  }

  /** Writes {@code optimizer}'s moments and step for {@code stage} to {@code out} (not closed). */
  public static void writeOptimizer(OutputStream out, StageModel stage, AdamW optimizer)
      throws IOException {
    Map<String, String> meta = metadata(stage);
    meta.put(STEP_KEY, Long.toString(optimizer.step()));
    Safetensors.write(out, optimizerShapes(stage), meta,
        new OneTensorAtATime(optimizer::exportState));
  }

  /**
   * Reads a weights file into {@code stage}, checking names and shapes first.
   *
   * @param source the file's name for messages
   * @throws IllegalArgumentException when the file belongs to another model or stage, or is
   *     truncated or corrupt
   */
  public static void readWeights(InputStream in, String source, StageModel stage)
      throws IOException {
    Map<String, long[]> expected = stage.parameterShapes();
    Safetensors.read(in, -1, source, h -> {
      Safetensors.checkShapes(Safetensors.shapes(h), expected, source, describe(stage));
      checkModel(h, source, stage.config());
    }, new Assembler(stage::importWeight));
  }

  /**
   * The model config a weights file was written for (its {@value #MODEL_KEY} metadata), or null
   * for a file without it. Reads only the header.
   */
  public static LlamaConfig modelOf(InputStream in, String source) throws IOException {
    String json = Safetensors.readHeader(in, -1, source).metadata().get(MODEL_KEY);
    return json == null ? null : LlamaConfig.fromJson(json, source + " " + MODEL_KEY);
  }

  /** A file written for another architecture (same shapes, other epsilon or theta) fails. */
  private static void checkModel(Safetensors.Header h, String source, LlamaConfig m) {
    String json = h.metadata().get(MODEL_KEY);
    if (json == null) {
      return;
    }
    LlamaConfig written = LlamaConfig.fromJson(json, source + " " + MODEL_KEY);
    if (!written.withSeqLen(m.seqLen()).equals(m)) {
      throw new IllegalArgumentException(source + " was written for the model " + json
          + ", not for " + m.toJson() + " (the sequence length may differ, nothing else); resume"
          + " or load it with the model it was trained as");
    }
  }

  /**
   * Reads an optimizer file into {@code optimizer} (moments and step), checking names and shapes
   * first.
   */
  public static void readOptimizer(InputStream in, String source, StageModel stage,
      AdamW optimizer) throws IOException {
    Map<String, long[]> expected = optimizerShapes(stage);
    Safetensors.Header h = Safetensors.read(in, -1, source,
        hd -> Safetensors.checkShapes(Safetensors.shapes(hd), expected, source,
            "the optimizer state of " + describe(stage)),
        new Assembler(optimizer::importState));
    String step = h.metadata().get(STEP_KEY);
    try {
      optimizer.setStep(Long.parseLong(step));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(source + " has __metadata__ " + STEP_KEY + " = " + step
          + "; expected the optimizer step count as a whole number. The file is not an optimizer"
          + " checkpoint of ours; load the " + OPTIMIZER + " written with these weights");
    }
  }

  /**
   * Streams a weights file of stage {@code stage} of model {@code c} (cut {@code layersPerStage}
   * layers per stage) to {@code sink}, after checking its names and shapes: for export, which
   * never needs a whole stage in memory.
   */
  public static Safetensors.Header streamWeights(InputStream in, String source, HfConfig c,
      int stage, int layersPerStage, Safetensors.TensorSink sink) throws IOException {
    Map<String, long[]> expected = LlamaTensors.stage(c, stage, layersPerStage);
    return Safetensors.read(in, -1, source,
        h -> Safetensors.checkShapes(Safetensors.shapes(h), expected, source, "stage " + stage
            + " (" + layersPerStage + " layers per stage, hidden " + c.hiddenSize() + ", vocab "
            + c.vocabSize() + ")"),
        sink);
  }

  /** The optimizer file's tensor names and shapes for {@code stage}. */
  static Map<String, long[]> optimizerShapes(StageModel stage) {
    Map<String, long[]> out = new LinkedHashMap<>();
    stage.parameterShapes().forEach((name, shape) -> {
      out.put(name + AdamW.EXP_AVG, shape);
      out.put(name + AdamW.EXP_AVG_SQ, shape);
    });
    return out;
  }

  private static Map<String, String> metadata(StageModel stage) {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    meta.put("skippipe.stage", Integer.toString(stage.stage()));
    meta.put("skippipe.layers_per_stage", Integer.toString(stage.config().layersPerStage()));
    meta.put(MODEL_KEY, stage.config().toJson());
    return meta;
  }

  private static String describe(StageModel stage) {
    return "stage " + stage.stage() + " (" + stage.config().layersPerStage()
        + " layers per stage, dim " + stage.config().dim() + ", vocab " + stage.config().vocab()
        + ")";
  }

  /** Reads one named tensor from the live objects, then serves its chunks. */
  interface TensorReader {
    float[] read(String name);
  }

  /** Writes one named tensor into the live objects. */
  interface TensorWriter {
    void write(String name, float[] values);
  }

  /** A chunk source holding only the tensor being written. */
  private static final class OneTensorAtATime implements Safetensors.ChunkSource {
    private final TensorReader reader;
    private String name;
    private float[] data;

    OneTensorAtATime(TensorReader reader) {
      this.reader = reader;
    }

    @Override
    public void fill(String tensor, long from, float[] chunk, int n) {
      if (!tensor.equals(name)) {
        name = tensor;
        data = reader.read(tensor);
      }
      System.arraycopy(data, (int) from, chunk, 0, n);
    }
  }

  /** A sink that assembles one tensor at a time and hands it over when complete. */
  static final class Assembler implements Safetensors.TensorSink {
    private final TensorWriter writer;
    private float[] data;

    Assembler(TensorWriter writer) {
      this.writer = writer;
    }

    @Override
    public void chunk(Safetensors.Entry e, long from, float[] chunk, int n) {
      if (from == 0) {
        data = new float[Math.toIntExact(LlamaTensors.numel(e.shape()))];
      }
      System.arraycopy(chunk, 0, data, (int) from, n);
      if (from + n == data.length) {
        writer.write(e.name(), data);
        data = null;
      }
    }

    @Override
    public void empty(Safetensors.Entry e) {
      writer.write(e.name(), new float[0]);
    }
  }
}
