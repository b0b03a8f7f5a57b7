package io.skippipe.model.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.StageModel;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A Hugging Face {@code LlamaForCausalLM} folder as {@code save_pretrained} writes it, read through
 * any file system: {@code config.json}, the weights in {@code model.safetensors} or in shards listed
 * by {@code model.safetensors.index.json} (F32, BF16 or F16; widened exactly to float32), and
 * {@code tokenizer.json}.
 *
 * <p>A pipeline stage loads only its own tensors ({@link #loadStage}): the index names the shards
 * that hold them, only those are opened, and inside each the stage's tensors are streamed one at a
 * time while the others are skipped — a stage of a large model never reads the rest of it, and never
 * holds more than one tensor on the heap. Tensors the model does not use (e.g. a tied model's
 * {@code lm_head.weight}, or {@code rotary_emb.inv_freq} buffers of old exports) are ignored; a
 * missing tensor or a wrong shape is an error naming the file, the tensor and both shapes.
 */
public final class HfFolder {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int BUFFER_BYTES = 1 << 20;

  /** The files of a folder, by name relative to it (a local directory, HDFS, S3A...). */
  public interface Files {
    /** Whether the folder holds a file of this name. */
    boolean exists(String name) throws IOException;

    /** Opens the named file for reading (the caller closes it). */
    InputStream open(String name) throws IOException;
  }

  private final String location;
  private final Files files;
  private final HfConfig config;
  /** Tensor name → the file holding it, in the index's (or model) order. */
  private final Map<String, String> fileOf;

  private HfFolder(String location, Files files, HfConfig config, Map<String, String> fileOf) {
    this.location = location;
    this.files = files;
    this.config = config;
    this.fileOf = fileOf;
  }

  /**
   * Reads {@code config.json} and the weight index of the folder at {@code location} (used in
   * messages) whose files {@code files} opens.
   *
   * @throws IllegalArgumentException when config.json or the weights are missing, or config.json
   *     or the index is invalid
   */
  public static HfFolder open(String location, Files files) throws IOException {
    if (!files.exists(ModelExport.CONFIG)) {
      throw new IllegalArgumentException(location + " has no " + ModelExport.CONFIG + "; point at"
          + " a Hugging Face model folder (config.json with model.safetensors or its shards and"
          + " model.safetensors.index.json)");
    }
    HfConfig config;
    try (InputStream in = files.open(ModelExport.CONFIG)) {
      config = HfConfig.read(in, location + "/" + ModelExport.CONFIG);
    }
    Map<String, String> fileOf = new LinkedHashMap<>();
    if (files.exists(ModelExport.INDEX)) {
      String source = location + "/" + ModelExport.INDEX;
      JsonNode index;
      try (InputStream in = files.open(ModelExport.INDEX)) {
        index = JSON.readTree(in);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException(source + " is not valid JSON (" + e.getOriginalMessage()
            + "); write the model folder again", e);
      }
      JsonNode map = index == null ? null : index.path("weight_map");
      if (map == null || !map.isObject()) {
        throw new IllegalArgumentException(source + " has no weight_map object; write the model"
            + " folder again");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String file = e.getValue().asText();
        if (file.isEmpty() || file.contains("/") || file.contains("..")) {
          throw new IllegalArgumentException(source + " places tensor \"" + e.getKey() + "\" in \""
              + file + "\"; shard names must be plain file names in the folder");
        }
        fileOf.put(e.getKey(), file);
      }
    } else if (files.exists(ModelExport.SINGLE)) {
      LlamaTensors.model(config).keySet().forEach(n -> fileOf.put(n, ModelExport.SINGLE));
    } else {
      throw new IllegalArgumentException(location + " has neither " + ModelExport.SINGLE + " nor "
          + ModelExport.INDEX + "; a Hugging Face model folder holds its weights in one of them");
    }
    return new HfFolder(location, files, config, fileOf);
  }

  /** The folder {@code dir} on the local file system. */
  public static HfFolder local(Path dir) throws IOException {
    return open(dir.toString(), new Files() {
      @Override
      public boolean exists(String name) {
        return java.nio.file.Files.isRegularFile(dir.resolve(name));
      }

      @Override
      public InputStream open(String name) throws IOException {
        return java.nio.file.Files.newInputStream(dir.resolve(name));
      }
    });
  }

  /** The folder's config.json. */
  public HfConfig config() {
    return config;
  }

  /** Where the folder is (for messages). */
  public String location() {
    return location;
  }

  /** Our model config of this folder ({@link HfConfig#llamaConfig}). */
  public LlamaConfig llamaConfig(int seqLen, int layersPerStage) {
    return config.llamaConfig(seqLen, layersPerStage);
  }

  /** The files (shards) holding the tensors of stage {@code stage}, sorted. */
  public Set<String> filesOfStage(int stage, int layersPerStage) {
    return new java.util.TreeSet<>(byFile(LlamaTensors.stage(config, stage, layersPerStage))
        .keySet());
  }

  /**
   * Overwrites {@code stage}'s weights with the folder's, reading only the files that hold them.
   *
   * @throws IllegalArgumentException when the stage was built for another architecture, or a tensor
   *     is missing or has another shape
   */
  public void loadStage(StageModel stage) throws IOException {
    checkArchitecture(stage.config());
    int s = stage.stage();
    Map<String, long[]> need = LlamaTensors.stage(config, s, stage.config().layersPerStage());
    read(need, "stage " + s, new StageCheckpoint.Assembler(stage::importWeight));
  }

  /** Every tensor the model uses, in HF model order ({@link LlamaTensors#model}). */
  public Map<String, Safetensors.Tensor> readAll() throws IOException {
    Map<String, long[]> need = LlamaTensors.model(config);
    Map<String, Safetensors.Tensor> got = new java.util.HashMap<>();
    read(need, "the model", new StageCheckpoint.Assembler(
        (name, values) -> got.put(name, new Safetensors.Tensor(need.get(name), values))));
    Map<String, Safetensors.Tensor> ordered = new LinkedHashMap<>();
    need.keySet().forEach(k -> ordered.put(k, got.get(k)));
    return ordered;
  }

  /** Streams the tensors {@code need} (name → expected shape) to {@code sink}, file by file. */
  private void read(Map<String, long[]> need, String what, Safetensors.TensorSink sink)
      throws IOException {
    Set<String> loaded = new HashSet<>();
    for (Map.Entry<String, Map<String, long[]>> f : byFile(need).entrySet()) {
      String source = location + "/" + f.getKey();
      Map<String, long[]> here = f.getValue();
      try (InputStream in = new BufferedInputStream(files.open(f.getKey()), BUFFER_BYTES)) {
        Safetensors.read(in, -1, source, h -> check(h, here, source, what),
            e -> here.containsKey(e.name()), sink);
      }
      loaded.addAll(here.keySet());
    }
    if (!loaded.equals(need.keySet())) {
      throw new IllegalStateException("read " + loaded.size() + " of " + need.size() + " tensors");
    }
  }

  /** {@code need} grouped by the file holding each tensor (sorted by file name). */
  private Map<String, Map<String, long[]>> byFile(Map<String, long[]> need) {
    Map<String, Map<String, long[]>> out = new TreeMap<>();
    for (Map.Entry<String, long[]> e : need.entrySet()) {
      String file = fileOf.get(e.getKey());
      if (file == null) {
        throw new IllegalArgumentException(location + "/" + ModelExport.INDEX + " lists no file"
            + " for tensor \"" + e.getKey() + "\" (shape " + Arrays.toString(e.getValue()) + ");"
            + " the folder lacks weights its config.json describes. Write the model folder again");
      }
      out.computeIfAbsent(file, k -> new LinkedHashMap<>()).put(e.getKey(), e.getValue());
    }
    return out;
  }

  private static void check(Safetensors.Header h, Map<String, long[]> here, String source,
      String what) {
    for (Map.Entry<String, long[]> e : here.entrySet()) {
      Safetensors.Entry found = h.entries().get(e.getKey());
      if (found == null) {
        throw new IllegalArgumentException(source + " lacks tensor \"" + e.getKey() + "\" (shape "
            + Arrays.toString(e.getValue()) + ") that " + what + " needs; the folder's index and"
            + " shards do not match. Write the model folder again");
      }
      if (!Arrays.equals(found.shape(), e.getValue())) {
        throw new IllegalArgumentException(source + ": tensor \"" + e.getKey() + "\" has shape "
            + Arrays.toString(found.shape()) + " but config.json implies "
            + Arrays.toString(e.getValue()) + "; the weights and config.json belong to different"
            + " models");
      }
    }
  }

  /** The stage must compute the folder's model. */
  private void checkArchitecture(LlamaConfig m) {
    LlamaConfig own = llamaConfig(m.seqLen(), m.layersPerStage());
    if (!own.equals(m)) {
      throw new IllegalArgumentException("the stage's model " + m.toJson() + " is not the model of "
          + location + "/" + ModelExport.CONFIG + " " + own.toJson() + "; build the stages from"
          + " the folder's config (HfFolder.llamaConfig)");
    }
  }
}
