package io.skippipe.model.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.model.weights.Safetensors.Tensor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  static final HfConfig TINY = HfConfig.llamaTiny();
  static final int LPS = 2;

  @TempDir Path tmp;

  /** Random weights of a stage, plus awkward floats (NaN payloads, -0, subnormals, infinities). */
  static Map<String, Tensor> randomStage(HfConfig c, int stage, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    Map<String, Tensor> m = new LinkedHashMap<>();
    LlamaTensors.stage(c, stage, LPS).forEach((name, shape) -> {
      float[] d = new float[(int) LlamaTensors.numel(shape)];
      for (int i = 0; i < d.length; i++) {
        d[i] = (float) r.nextGaussian();
      }
      d[0] = Float.intBitsToFloat(0x7fc01234); // a NaN with a payload
      d[1] = -0.0f;
      d[2] = Float.MIN_VALUE;
      d[d.length - 1] = Float.NEGATIVE_INFINITY;
      m.put(name, new Tensor(shape, d));
    });
    return m;
  }

  static void assertBitExact(Map<String, Tensor> a, Map<String, Tensor> b) {
    assertEquals(new ArrayList<>(a.keySet()), new ArrayList<>(b.keySet()));
    a.forEach((k, t) -> {
      assertArrayEquals(t.shape(), b.get(k).shape(), k);
      float[] x = t.data();
      float[] y = b.get(k).data();
      assertEquals(x.length, y.length, k);
      for (int i = 0; i < x.length; i++) {
        if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) {
          throw new AssertionError(k + "[" + i + "]: " + x[i] + " vs " + y[i]);
        }
      }
    });
  }

  /** Writes a stage's weights file as the stage checkpoint does (HF names, format=pt). */
  static Path saveWeights(Path dir, int stage, Map<String, Tensor> w) throws IOException {
    Path f = dir.resolve("stage-" + stage + "." + StageCheckpoint.WEIGHTS);
    Safetensors.write(f, w, Map.of("format", "pt"));
    return f;
  }

  /** Reads a stage's weights file through the checkpoint's streaming, checking reader. */
  static Map<String, Tensor> loadWeights(Path dir, HfConfig c, int stage) throws IOException {
    Path f = dir.resolve("stage-" + stage + "." + StageCheckpoint.WEIGHTS);
    Map<String, Tensor> out = new java.util.LinkedHashMap<>();
    try (java.io.InputStream in = Files.newInputStream(f)) {
      StageCheckpoint.streamWeights(in, f.toString(), c, stage, LPS, new Safetensors.TensorSink() {
        float[] data;

        @Override
        public void chunk(Safetensors.Entry e, long from, float[] chunk, int n) {
          if (from == 0) {
            data = new float[(int) LlamaTensors.numel(e.shape())];
          }
          System.arraycopy(chunk, 0, data, (int) from, n);
          if (from + n == data.length) {
            out.put(e.name(), new Tensor(e.shape(), data));
          }
        }
      });
    }
    return out;
  }

  @Test
  void roundTripIsBitExactAndHeaderListsHfNamesShapesDtypes() throws IOException {
    Map<String, Tensor> w = randomStage(TINY, 0, 7);
    Path f = saveWeights(tmp, 0, w);
    assertBitExact(w, loadWeights(tmp, TINY, 0));

    // The header, read as plain JSON the way Python's safetensors does.
    byte[] bytes = Files.readAllBytes(f);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, (8 + n) % 8, "data must start 8-byte aligned");
    JsonNode h = new ObjectMapper().readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
    assertEquals("pt", h.get("__metadata__").get("format").asText());
    List<String> expectedNames = new ArrayList<>(List.of("model.embed_tokens.weight"));
    for (int l = 0; l < 2; l++) {
      for (String mod : List.of("input_layernorm", "self_attn.q_proj", "self_attn.k_proj",
          "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj",
          "mlp.up_proj", "mlp.down_proj")) {
        expectedNames.add("model.layers." + l + "." + mod + ".weight");
      }
    }
    expectedNames.addAll(List.of("model.norm.weight", "lm_head.weight"));
    List<String> names = new ArrayList<>();
    h.fieldNames().forEachRemaining(k -> {
      if (!k.equals("__metadata__")) {
        names.add(k);
      }
    });
    assertEquals(expectedNames, names);
    assertEquals("[1024,64]", h.get("model.embed_tokens.weight").get("shape").toString());
    assertEquals("[64,64]", h.get("model.layers.0.self_attn.q_proj.weight").get("shape").toString());
    assertEquals("[32,64]", h.get("model.layers.1.self_attn.k_proj.weight").get("shape").toString());
    assertEquals("[64,64]", h.get("model.layers.1.self_attn.o_proj.weight").get("shape").toString());
    assertEquals("[176,64]", h.get("model.layers.0.mlp.gate_proj.weight").get("shape").toString());
    assertEquals("[64,176]", h.get("model.layers.0.mlp.down_proj.weight").get("shape").toString());
    assertEquals("[64]", h.get("model.norm.weight").get("shape").toString());
    assertEquals("[1024,64]", h.get("lm_head.weight").get("shape").toString());
    h.fields().forEachRemaining(e -> {
      if (!e.getKey().equals("__metadata__")) {
        assertEquals("F32", e.getValue().get("dtype").asText(), e.getKey());
      }
    });
    // The tensor bytes are raw little-endian float32 at data_offsets.
    JsonNode emb = h.get("model.embed_tokens.weight");
    int begin = (int) (8 + n + emb.get("data_offsets").get(0).asLong());
    float first = ByteBuffer.wrap(bytes, begin + 12, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
    assertEquals(w.get("model.embed_tokens.weight").data()[3], first);
  }

  @Test
  void writesTheExactBytesOfTheFormatSpec() throws IOException {
    // A one-tensor file; header padded with spaces to a multiple of 8, as the Python writer does.
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Map<String, Tensor> t = new LinkedHashMap<>();
    t.put("a", new Tensor(new long[] {2}, new float[] {1.0f, -2.5f}));
    Safetensors.write(out, t, Map.of());
    byte[] b = out.toByteArray();
    String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    int padded = (json.length() + 7) / 8 * 8;
    assertEquals(8 + padded + 8, b.length);
    assertEquals(padded, ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
    assertEquals(json + " ".repeat(padded - json.length()),
        new String(b, 8, padded, StandardCharsets.US_ASCII));
    assertEquals(0x3f800000, ByteBuffer.wrap(b, 8 + padded, 4).order(ByteOrder.LITTLE_ENDIAN)
        .getInt());
    assertEquals(Safetensors.serializedSize(Safetensors.shapesOf(t), Map.of()), b.length);
  }

  @Test
  void configJsonRoundTripsAndHasTheHfKeys() throws IOException {
    TINY.write(tmp.resolve("config.json"));
    assertEquals(TINY, HfConfig.read(tmp.resolve("config.json")));
    JsonNode o = new ObjectMapper().readTree(tmp.resolve("config.json").toFile());
    assertEquals("LlamaForCausalLM", o.get("architectures").get(0).asText());
    assertEquals(64, o.get("hidden_size").asInt());
    assertEquals(176, o.get("intermediate_size").asInt());
    assertEquals(2, o.get("num_key_value_heads").asInt());
    assertEquals(12, o.get("num_hidden_layers").asInt());
    assertEquals(1e-5, o.get("rms_norm_eps").asDouble());
    assertEquals(false, o.get("tie_word_embeddings").asBoolean());
    assertEquals("float32", o.get("torch_dtype").asText());
  }

  @Test
  void exportsAllStagesAsOneModelSingleAndSharded() throws IOException {
    List<Map<String, Tensor>> stages = new ArrayList<>();
    for (int s = 0; s < 6; s++) {
      stages.add(randomStage(TINY, s, 100 + s));
    }
    Map<String, Tensor> all = ModelExport.mergeStages(TINY, stages);
    Path tok = tmp.resolve("tok.json");
    Files.writeString(tok, "{}");
    Path single = tmp.resolve("single");
    ModelExport.export(single, TINY, all, tok, ModelExport.DEFAULT_MAX_SHARD_BYTES);
    assertTrue(Files.exists(single.resolve("model.safetensors")));
    assertTrue(Files.exists(single.resolve("tokenizer.json")));
    assertBitExact(all, ModelExport.load(single).weights());

    Path sharded = tmp.resolve("sharded");
    ModelExport.export(sharded, TINY, all, null, 600_000);
    assertTrue(Files.exists(sharded.resolve("model.safetensors.index.json")));
    long shards;
    try (var files = Files.list(sharded)) {
      shards = files.filter(p -> p.getFileName().toString().matches("model-\\d{5}-of-\\d{5}"
          + "\\.safetensors")).count();
    }
    assertTrue(shards >= 3, "expected several shards, got " + shards);
    for (int i = 1; i <= shards; i++) {
      Path p = sharded.resolve(String.format("model-%05d-of-%05d.safetensors", i, shards));
      assertTrue(Files.size(p) <= 600_000 + 4096 || Safetensors.readHeader(p).entries().size() == 1);
    }
    ModelExport.Loaded back = ModelExport.load(sharded);
    assertEquals(TINY, back.config());
    assertBitExact(all, back.weights());
  }

  // --- corrupt and mismatched files -------------------------------------------------------------

  private Path validFile() throws IOException {
    return saveWeights(tmp, 1, randomStage(TINY, 1, 5));
  }

  private static String messageOf(Path f) {
    return assertThrows(IllegalArgumentException.class, () -> Safetensors.read(f)).getMessage();
  }

  @Test
  void truncatedFileIsAClearError() throws IOException {
    Path f = validFile();
    byte[] b = Files.readAllBytes(f);
    Files.write(f, Arrays.copyOf(b, b.length - 100));
    String m = messageOf(f);
    assertTrue(m.contains("truncated") && m.contains("model.layers.3.mlp.down_proj.weight"), m);
    // Through a stream of unknown length too: the tensor whose data ends early is named.
    String m2 = assertThrows(IllegalArgumentException.class, () -> Safetensors.read(
        new ByteArrayInputStream(Arrays.copyOf(b, b.length - 100)), -1, "s")).getMessage();
    assertTrue(m2.contains("truncated") && m2.contains("model.layers.3.mlp.down_proj.weight"), m2);
    Files.write(f, Arrays.copyOf(b, 5));
    assertTrue(messageOf(f).contains("shorter than the 8-byte header length"));
    Files.write(f, Arrays.copyOf(b, 40));
    assertTrue(messageOf(f).contains("truncated"), messageOf(f));
  }

  private static byte[] file(String header, int dataBytes) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  @Test
  void badHeaderJsonIsAClearError() throws IOException {
    Path f = tmp.resolve("bad.safetensors");
    Files.write(f, file("{\"a\":{\"dtype\":\"F32\",", 0));
    assertTrue(messageOf(f).contains("not valid JSON"), messageOf(f));
    Files.write(f, file("[1,2]", 0));
    assertTrue(messageOf(f).contains("not a JSON object"), messageOf(f));
    Files.write(f, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8));
    assertTrue(messageOf(f).contains("\"a\"") && messageOf(f).contains("data_offsets"));
    byte[] huge = file("{}", 0);
    ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
    Files.write(f, huge);
    assertTrue(messageOf(f).contains("declares a header of"), messageOf(f));
  }

  @Test
  void offsetsOutOfRangeOrOverlappingAreClearErrors() throws IOException {
    Path f = tmp.resolve("off.safetensors");
    Files.write(f, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8));
    String m = messageOf(f);
    assertTrue(m.contains("truncated") && m.contains("\"b\"") && m.contains("16"), m);
    Files.write(f, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12));
    m = messageOf(f);
    assertTrue(m.contains("\"a\"") && m.contains("need 8 bytes"), m);
    Files.write(f, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
    m = messageOf(f);
    assertTrue(m.contains("\"b\"") && m.contains("overlap"), m);
    Files.write(f, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16));
    assertTrue(messageOf(f).contains("trailing bytes"), messageOf(f));
  }

  @Test
  void unsupportedDtypeIsAClearError() throws IOException {
    Path f = tmp.resolve("f64.safetensors");
    Files.write(f, file("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16));
    String m = messageOf(f);
    assertTrue(m.contains("\"w\"") && m.contains("F64") && m.contains("only F32, BF16 and F16")
        && m.contains("float32"), m);
    // a BF16 tensor sized as if it were F32 is caught by its byte count
    Files.write(f, file("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
    m = messageOf(f);
    assertTrue(m.contains("dtype BF16") && m.contains("need 4 bytes"), m);
  }

  /**
   * BF16 and F16 tensors (as Hugging Face ships checkpoints) widen exactly to float32; the expected
   * values are the IEEE definitions, written out by hand.
   */
  @Test
  void bf16AndF16ValuesWidenExactly() throws IOException {
    short[] half = {0x3c00, (short) 0xc000, 0x0001, 0x03ff, 0x7bff, 0x3555, (short) 0xfc00,
        (short) 0x8000};
    float[] halfValues = {1f, -2f, 0x1p-24f, 1023 * 0x1p-24f, 65504f, 0.333251953125f,
        Float.NEGATIVE_INFINITY, -0f};
    short[] bf = {0x3f80, (short) 0xc0a0, 0x0001, 0x7f7f, 0x3eab};
    float[] bfValues = {1f, -5f, Float.intBitsToFloat(0x00010000),
        Float.intBitsToFloat(0x7f7f0000), Float.intBitsToFloat(0x3eab0000)};
    String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[0,16]},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[16,26]}}";
    byte[] bytes = file(header, 26);
    ByteBuffer data = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    data.position(bytes.length - 26);
    for (short v : half) {
      data.putShort(v);
    }
    for (short v : bf) {
      data.putShort(v);
    }
    Path f = tmp.resolve("half.safetensors");
    Files.write(f, bytes);
    Map<String, Tensor> t = Safetensors.read(f).tensors();
    for (int i = 0; i < half.length; i++) {
      assertEquals(Float.floatToRawIntBits(halfValues[i]),
          Float.floatToRawIntBits(t.get("h").data()[i]), "half " + i);
    }
    for (int i = 0; i < bf.length; i++) {
      assertEquals(Float.floatToRawIntBits(bfValues[i]),
          Float.floatToRawIntBits(t.get("b").data()[i]), "bf16 " + i);
    }
  }

  @Test
  void shapeOrStageMismatchAgainstTheConfigIsAClearError() throws IOException {
    validFile();
    // Same stage, different width: the first tensor's found and expected shapes are named.
    HfConfig wider = new HfConfig(128, 176, 4, 2, 12, 1024, 1e-5, 10000, 64, 0, 0);
    String m = assertThrows(IllegalArgumentException.class,
        () -> loadWeights(tmp, wider, 1)).getMessage();
    assertTrue(m.contains("model.layers.2.input_layernorm.weight") && m.contains("[64]")
        && m.contains("[128]"), m);
    // The file of stage 1 loaded as stage 2: the missing tensor is named.
    Files.copy(tmp.resolve("stage-1." + StageCheckpoint.WEIGHTS),
        tmp.resolve("stage-2." + StageCheckpoint.WEIGHTS));
    m = assertThrows(IllegalArgumentException.class,
        () -> loadWeights(tmp, TINY, 2)).getMessage();
    assertTrue(m.contains("lacks tensor \"model.layers.4.input_layernorm.weight\""), m);
  }

  @Test
  void badConfigsAreClearErrors() {
    String m = assertThrows(IllegalArgumentException.class,
        () -> new HfConfig(64, 176, 4, 3, 12, 1024, 1e-5, 10000, 64, 0, 0)).getMessage();
    assertTrue(m.contains("num_key_value_heads 3"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> HfConfig.parse("{\"hidden_size\": 64}")).getMessage();
    assertTrue(m.contains("\"num_attention_heads\""), m);
    m = assertThrows(IllegalArgumentException.class, () -> HfConfig.parse("{oops")).getMessage();
    assertTrue(m.contains("not valid JSON"), m);
  }
}
