package io.skippipe.model.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.model.weights.Safetensors.Tensor;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Export of all stages as one Hugging Face model folder: {@code config.json},
 * {@code model.safetensors} (or, above a size limit, {@code model-0000i-of-0000n.safetensors}
 * shards with {@code model.safetensors.index.json}, the layout {@code save_pretrained} writes) and,
 * if given, {@code tokenizer.json}. {@link #load} reads either layout back and checks every tensor
 * against the config.
 */
public final class ModelExport {
  private ModelExport() {}

  public static final String CONFIG = "config.json";
  public static final String SINGLE = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";
  public static final String TOKENIZER = "tokenizer.json";

  /** Default shard limit, as {@code save_pretrained}'s {@code max_shard_size="5GB"}. */
  public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Merges the weights of every stage into one map in HF model order; a missing tensor fails. */
  public static Map<String, Tensor> mergeStages(HfConfig c, List<Map<String, Tensor>> stages) {
    Map<String, Tensor> all = new LinkedHashMap<>();
    for (Map<String, Tensor> s : stages) {
      for (Map.Entry<String, Tensor> e : s.entrySet()) {
        if (all.put(e.getKey(), e.getValue()) != null) {
          throw new IllegalArgumentException("tensor \"" + e.getKey() + "\" is held by two stages;"
              + " pass each stage's weights once");
        }
      }
    }
    Safetensors.checkShapes(Safetensors.shapesOf(all), LlamaTensors.model(c), "the merged stages",
        "the whole model");
    Map<String, Tensor> ordered = new LinkedHashMap<>();
    LlamaTensors.model(c).keySet().forEach(k -> ordered.put(k, all.get(k)));
    return ordered;
  }

  /**
   * Writes a model folder from tensors in memory.
   *
   * @param dir the folder (created if needed)
   * @param weights every tensor of the model (see {@link #mergeStages})
   * @param tokenizerJson a tokenizer.json to copy in, or null
   * @param maxShardBytes the largest a single safetensors file may be before sharding
   */
  public static void export(Path dir, HfConfig c, Map<String, Tensor> weights, Path tokenizerJson,
      long maxShardBytes) throws IOException {
    Safetensors.checkShapes(Safetensors.shapesOf(weights), LlamaTensors.model(c), "the model to"
        + " export", "the config");
    export(dir, c, (name, from, chunk, n) ->
        System.arraycopy(weights.get(name).data(), Math.toIntExact(from), chunk, 0, n),
        tokenizerJson, maxShardBytes);
  }

  /** As {@link #export(FolderOutput, HfConfig, Safetensors.ChunkSource, byte[], long)} into a
   * local folder, copying {@code tokenizerJson} (or none when null). */
  public static void export(Path dir, HfConfig c, Safetensors.ChunkSource source,
      Path tokenizerJson, long maxShardBytes) throws IOException {
    export(FolderOutput.local(dir), c, source,
        tokenizerJson == null ? null : Files.readAllBytes(tokenizerJson), maxShardBytes);
  }

  /**
   * Writes a model folder whose tensors (in HF model order, {@link LlamaTensors#model}) are
   * streamed from {@code source} chunk by chunk: no tensor, shard or model needs to fit in memory.
   * Shards follow {@code save_pretrained}: greedy in model order, a tensor larger than the limit
   * gets a shard of its own.
   *
   * @param out the folder's files (local or any Hadoop file system)
   * @param tokenizerJson the bytes of a tokenizer.json to write, or null for none
   * @param maxShardBytes the largest a single safetensors file may be before sharding, bytes
   * @throws IllegalArgumentException when {@code maxShardBytes} is not positive
   */
  public static void export(FolderOutput out, HfConfig c, Safetensors.ChunkSource source,
      byte[] tokenizerJson, long maxShardBytes) throws IOException {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes " + maxShardBytes + " must be positive");
    }
    Map<String, long[]> shapes = LlamaTensors.model(c);
    try (OutputStream config = out.create(CONFIG)) {
      c.write(config);
    }
    if (tokenizerJson != null) {
      out.write(TOKENIZER, tokenizerJson);
    }
    Map<String, String> meta = Map.of("format", "pt");
    if (Safetensors.serializedSize(shapes, meta) <= maxShardBytes) {
      writeFile(out, SINGLE, shapes, meta, source);
      return;
    }
    List<Map<String, long[]>> shards = new ArrayList<>();
    Map<String, long[]> cur = new LinkedHashMap<>();
    long curBytes = 0;
    long total = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      long b = 4L * LlamaTensors.numel(e.getValue());
      total += b;
      if (!cur.isEmpty() && curBytes + b > maxShardBytes) {
        shards.add(cur);
        cur = new LinkedHashMap<>();
        curBytes = 0;
      }
      cur.put(e.getKey(), e.getValue());
      curBytes += b;
    }
    shards.add(cur);
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      writeFile(out, name, shards.get(i), meta, source);
      shards.get(i).keySet().forEach(k -> map.put(k, name));
    }
    out.write(INDEX, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index));
  }

  /** One safetensors file, streamed through a 1 MiB buffer. */
  private static void writeFile(FolderOutput folder, String name, Map<String, long[]> shapes,
      Map<String, String> meta, Safetensors.ChunkSource source) throws IOException {
    try (OutputStream out = new BufferedOutputStream(folder.create(name), 1 << 20)) {
      Safetensors.write(out, shapes, meta, source);
    }
  }

  /**
   * A loaded model folder.
   *
   * @param config its config.json
   * @param weights every tensor, in HF model order
   */
  public record Loaded(HfConfig config, Map<String, Tensor> weights) {}

  /**
   * Reads a folder written by {@link #export} or by {@code save_pretrained} (F32, BF16 or F16;
   * see {@link HfFolder}), checking every tensor against its config.json.
   */
  public static Loaded load(Path dir) throws IOException {
    HfFolder folder = HfFolder.local(dir);
    return new Loaded(folder.config(), folder.readAll());
  }
}
