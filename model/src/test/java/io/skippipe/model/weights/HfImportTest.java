package io.skippipe.model.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.reference.ReferenceLlama;
import io.skippipe.model.stage.LossResult;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.TokenBatch;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 item 5, model side: a Hugging Face folder with a hand-written config.json (tied
 * embeddings, rope_theta 500000, rms_norm_eps 1e-6) and hand-written sharded safetensors (one shard
 * bfloat16, one float32, written here byte by byte, not by our writer) loads stage by stage,
 * each stage opening only the shards that hold its tensors; the logits of the loaded stages equal
 * the independent double-precision reference on the same values; the tied embedding's gradient
 * (from the embedding lookup and from the head) agrees with finite differences; and export →
 * import → export is byte-identical.
 */
class HfImportTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int LPS = 2;
  private static final int B = 2;
  private static final int T = 12;

  @TempDir Path tmp;

  /** The hand-written config.json: 4 layers, tied embeddings, RoPE base 500000. */
  static String configJson() {
    return """
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": 32,
          "intermediate_size": 48,
          "num_attention_heads": 4,
          "num_key_value_heads": 2,
          "num_hidden_layers": 4,
          "vocab_size": 64,
          "rms_norm_eps": 1e-06,
          "rope_theta": 500000.0,
          "max_position_embeddings": 128,
          "hidden_act": "silu",
          "tie_word_embeddings": true,
          "bos_token_id": 1,
          "eos_token_id": 2,
          "torch_dtype": "bfloat16"
        }
        """;
  }

  /** Random weight values of the tied model; the tensors of shard 1 are rounded to bfloat16. */
  static Map<String, float[]> values(HfConfig c) {
    // matrices normal(0, 1/sqrt(in)), norm weights 1 + 0.1·normal, embedding normal(0, 1): large
    // enough that attention is far from uniform
    Map<String, float[]> w = new LinkedHashMap<>();
    SplittableRandom r = new SplittableRandom(21);
    LlamaTensors.model(c).forEach((name, shape) -> {
      float[] d = new float[(int) LlamaTensors.numel(shape)];
      double std = name.equals(LlamaTensors.EMBED) ? 1 : shape.length == 2
          ? 1 / Math.sqrt(shape[1]) : 0.1;
      for (int i = 0; i < d.length; i++) {
        d[i] = (float) ((shape.length == 1 ? 1 : 0) + std * r.nextGaussian());
      }
      w.put(name, d);
    });
    for (String name : shard1(c)) {
      float[] v = w.get(name);
      for (int i = 0; i < v.length; i++) {
        v[i] = Float.intBitsToFloat(Float.floatToRawIntBits(v[i]) & 0xffff0000); // truncation
      }
    }
    return w;
  }

  /** Shard 1 (BF16): the embedding and layers 0–1; shard 2 (F32): layers 2–3 and the norm. */
  static List<String> shard1(HfConfig c) {
    List<String> names = new ArrayList<>();
    for (String n : LlamaTensors.model(c).keySet()) {
      if (n.equals(LlamaTensors.EMBED) || n.startsWith("model.layers.0.")
          || n.startsWith("model.layers.1.")) {
        names.add(n);
      }
    }
    return names;
  }

  /**
   * Writes a safetensors file by hand (header JSON, then little-endian values), in {@code dtype}
   * F32 or BF16 — independent of {@link Safetensors#write}.
   */
  static void writeByHand(Path file, Map<String, long[]> shapes, Map<String, float[]> values,
      String dtype) throws IOException {
    int width = dtype.equals("F32") ? 4 : 2;
    ObjectNode h = JSON.createObjectNode();
    long offset = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      ObjectNode t = h.putObject(e.getKey());
      t.put("dtype", dtype);
      var shape = t.putArray("shape");
      for (long d : e.getValue()) {
        shape.add(d);
      }
      long bytes = (long) width * values.get(e.getKey()).length;
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] header = JSON.writeValueAsBytes(h);
    ByteBuffer b = ByteBuffer.allocate((int) (8 + header.length + offset))
        .order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(header.length).put(header);
    for (String name : shapes.keySet()) {
      for (float v : values.get(name)) {
        if (width == 4) {
          b.putFloat(v);
        } else {
          b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
        }
      }
    }
    Files.write(file, b.array());
  }

  /** The folder: config.json, two shards (BF16 + F32, plus an unused lm_head) and the index. */
  Path folder(Map<String, float[]> w, HfConfig c) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("hf"));
    Files.writeString(dir.resolve("config.json"), configJson());
    Map<String, long[]> all = LlamaTensors.model(c);
    Map<String, long[]> s1 = new LinkedHashMap<>();
    Map<String, long[]> s2 = new LinkedHashMap<>();
    all.forEach((n, shape) -> (shard1(c).contains(n) ? s1 : s2).put(n, shape));
    // a tied save_pretrained omits lm_head.weight; a stray one must be ignored, not loaded
    s2.put(LlamaTensors.LM_HEAD, new long[] {c.vocabSize(), c.hiddenSize()});
    Map<String, float[]> v2 = new LinkedHashMap<>(w);
    float[] stray = new float[c.vocabSize() * c.hiddenSize()];
    java.util.Arrays.fill(stray, 1e6f);
    v2.put(LlamaTensors.LM_HEAD, stray);
    writeByHand(dir.resolve("model-00001-of-00002.safetensors"), s1, w, "BF16");
    writeByHand(dir.resolve("model-00002-of-00002.safetensors"), s2, v2, "F32");
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", 0);
    ObjectNode map = index.putObject("weight_map");
    s1.keySet().forEach(n -> map.put(n, "model-00001-of-00002.safetensors"));
    s2.keySet().forEach(n -> map.put(n, "model-00002-of-00002.safetensors"));
    Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
    return dir;
  }

  /** The folder's files, counting which ones are opened. */
  record Counting(Path dir, List<String> opened) implements HfFolder.Files {
    @Override
    public boolean exists(String name) {
      return Files.isRegularFile(dir.resolve(name));
    }

    @Override
    public InputStream open(String name) throws IOException {
      opened.add(name);
      return Files.newInputStream(dir.resolve(name));
    }
  }

  @Test
  void stagesLoadOnlyTheirShardsAndComputeTheFoldersModel() throws IOException {
    HfConfig c = HfConfig.parse(configJson());
    assertTrue(c.tieWordEmbeddings());
    assertEquals(500000.0, c.ropeTheta());
    Map<String, float[]> w = values(c);
    Path dir = folder(w, c);
    List<String> opened = new ArrayList<>();
    HfFolder f = HfFolder.open(dir.toString(), new Counting(dir, opened));
    LlamaConfig cfg = f.llamaConfig(T, LPS);
    assertEquals(new LlamaConfig(32, 4, 4, 2, 48, 64, T, LPS, 1e-6, 500000.0, true), cfg);

    List<StageModel> stages = new ArrayList<>();
    try {
      for (int s = 0; s < cfg.stages(); s++) {
        stages.add(StageModel.create(cfg, s, 99));
        opened.clear();
        f.loadStage(stages.get(s));
        // stage 1 (layers 2-3) lives in shard 2 only; stage 0 needs both (the norm is in shard 2)
        assertEquals(s == 0 ? List.of("model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors") : List.of("model-00002-of-00002.safetensors"),
            opened, "files opened for stage " + s);
        assertEquals(new TreeSet<>(opened), f.filesOfStage(s, LPS));
      }
      // the master weights hold exactly the folder's values (bf16 widened exactly)
      for (StageModel s : stages) {
        s.exportWeights().forEach((n, v) -> assertArrayEquals(w.get(n), v, 0f, n));
      }
      assertFalse(stages.get(0).parameterNames().contains(LlamaTensors.LM_HEAD));

      // logits of the loaded stages equal the independent reference on the folder's values
      int[] tokens = tokens(c.vocabSize(), 5);
      TokenBatch batch = TokenBatch.of(tokens, T);
      float[] h = stages.get(0).forwardTokens(1, batch.inputIds());
      h = stages.get(1).forward(1, h);
      float[] logits;
      try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
        logits = stages.get(0).logits(m.create(h, new Shape(B, T, c.hiddenSize())))
            .toFloatArray();
      }
      ReferenceLlama ref = new ReferenceLlama(c, w);
      ReferenceLlama.Output out = ref.forward(tokens, B, T, ref.allLayers());
      double scale = 0;
      double diff = 0;
      for (int i = 0; i < logits.length; i++) {
        scale = Math.max(scale, Math.abs(out.logits()[i]));
        diff = Math.max(diff, Math.abs(logits[i] - out.logits()[i]));
      }
      assertTrue(scale > 3, "logits should be far from zero: " + scale);
      assertTrue(diff <= 1e-4 * scale, "max logit difference " + diff + " of " + scale);

      // the tied embedding's gradient sums the lookup's and the head's: finite differences agree
      stages.get(0).zeroGradients(List.of(1));
      stages.get(1).zeroGradients(List.of(1));
      LossResult<float[]> r = stages.get(0).lossAndBackwardStart(1, h, batch.targets(), 1f);
      assertEquals(out.loss(), r.loss(), 1e-4 * out.loss());
      float[] g = stages.get(1).backward(1, r.gradHidden());
      stages.get(0).backward(1, g);
      float[] grad = stages.get(0).flatGradients(); // the embedding comes first in stage 0
      int tokenRow = batch.inputIds()[0]; // a row both the lookup and the head use
      int checked = 0;
      for (int col = 0; col < 3; col++) {
        int idx = tokenRow * c.hiddenSize() + col;
        double fd = ref.finiteDifference(LlamaTensors.EMBED, idx, 1e-3, tokens, B, T,
            ref.allLayers());
        assertEquals(fd, grad[idx], 2e-3 * Math.abs(fd) + 1e-6, "embedding[" + idx + "]");
        checked += Math.abs(fd) > 1e-5 ? 1 : 0;
      }
      assertTrue(checked > 0, "derivatives too small to compare");
    } finally {
      stages.forEach(StageModel::close);
    }
  }

  @Test
  void exportImportExportIsByteIdentical() throws IOException {
    HfConfig c = HfConfig.parse(configJson());
    Map<String, float[]> w = values(c);
    HfFolder f = HfFolder.local(folder(w, c));
    LlamaConfig cfg = f.llamaConfig(T, LPS);
    Path tokenizer = Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {}}");
    Path first = tmp.resolve("first");
    Path second = tmp.resolve("second");
    exportThroughStages(f, cfg, first, tokenizer);
    HfConfig back = HfConfig.read(first.resolve("config.json"));
    assertEquals(c, back, "config.json keeps tie_word_embeddings and rope_theta");
    exportThroughStages(HfFolder.local(first), cfg, second, tokenizer);
    List<String> names;
    try (var s = Files.list(first)) {
      names = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    assertTrue(names.contains("model.safetensors") && names.contains("config.json"), "" + names);
    for (String n : names) {
      assertArrayEquals(Files.readAllBytes(first.resolve(n)), Files.readAllBytes(second.resolve(n)),
          n + " differs between the two exports");
    }
    // the exported values are the folder's (bf16 shard widened exactly)
    ModelExport.load(first).weights().forEach((n, t) -> assertArrayEquals(w.get(n), t.data(), 0f,
        n));
  }

  /** Loads every stage from {@code folder}, then exports the stages as one model folder. */
  static void exportThroughStages(HfFolder folder, LlamaConfig cfg, Path out, Path tokenizer)
      throws IOException {
    List<StageModel> stages = new ArrayList<>();
    try {
      for (int s = 0; s < cfg.stages(); s++) {
        stages.add(StageModel.create(cfg, s, 7));
        folder.loadStage(stages.get(s));
      }
      HfConfig hf = folder.config();
      ModelExport.export(out, hf, (name, from, chunk, n) -> {
        int s = name.startsWith("model.layers.")
            ? Integer.parseInt(name.split("\\.")[2]) / cfg.layersPerStage() : 0;
        System.arraycopy(stages.get(s).exportWeight(name), (int) from, chunk, 0, n);
      }, tokenizer, ModelExport.DEFAULT_MAX_SHARD_BYTES);
    } finally {
      stages.forEach(StageModel::close);
    }
  }

  @Test
  void mismatchesAreClearErrors() throws IOException {
    HfConfig c = HfConfig.parse(configJson());
    Path dir = folder(values(c), c);
    HfFolder f = HfFolder.local(dir);
    // a stage built for another RoPE base would load without a shape error: refused by name
    LlamaConfig other = new LlamaConfig(32, 4, 4, 2, 48, 64, T, LPS, 1e-6, 10000.0, true);
    try (StageModel s = StageModel.create(other, 1, 1)) {
      String m = assertThrows(IllegalArgumentException.class, () -> f.loadStage(s)).getMessage();
      assertTrue(m.contains("\"ropeTheta\":500000.0") && m.contains("\"ropeTheta\":10000.0"), m);
    }
    // a shard that lacks a tensor the index places in it
    Path shard2 = dir.resolve("model-00002-of-00002.safetensors");
    Map<String, long[]> one = Map.of(LlamaTensors.NORM, new long[] {32});
    writeByHand(shard2, one, Map.of(LlamaTensors.NORM, new float[32]), "F32");
    try (StageModel s = StageModel.create(f.llamaConfig(T, LPS), 1, 1)) {
      String m = assertThrows(IllegalArgumentException.class, () -> f.loadStage(s)).getMessage();
      assertTrue(m.contains("lacks tensor \"model.layers.2.input_layernorm.weight\"")
          && m.contains("model-00002-of-00002.safetensors"), m);
    }
    // options our layers do not implement are refused instead of silently computing another model
    String scaled = configJson().replace("\"hidden_act\": \"silu\",",
        "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0},");
    String m = assertThrows(IllegalArgumentException.class, () -> HfConfig.parse(scaled))
        .getMessage();
    assertTrue(m.contains("rope_scaling"), m);
    // no weights at all
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    Files.writeString(empty.resolve("config.json"), configJson());
    m = assertThrows(IllegalArgumentException.class, () -> HfFolder.local(empty)).getMessage();
    assertTrue(m.contains("neither model.safetensors nor model.safetensors.index.json"), m);
  }

  static int[] tokens(int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[B * (T + 1)];
    for (int i = 0; i < t.length; i++) {
      t[i] = r.nextInt(vocab);
    }
    return t;
  }
}
