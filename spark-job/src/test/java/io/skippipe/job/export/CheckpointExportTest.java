package io.skippipe.job.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.cli.SkipPipeCli;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.testing.MiniHdfs;
import io.skippipe.job.testing.MotoS3;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.BpeTrainer;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.ModelExport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/skippipe export} on a real checkpoint of the tiny model written through the checkpoint
 * store: the folder has HF LLaMA tensor names, shapes and dtypes (read with a header parser of this
 * test's own), an HF {@code config.json}, and the weights loaded back give bit-identical logits.
 */
class CheckpointExportTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path ROOT = Paths.get(System.getProperty("skippipe.repo.root", ".."))
      .toAbsolutePath().normalize();

  @TempDir Path tmp;
  private LlamaConfig cfg;
  private HfConfig hf;
  private final List<StageModel> open = new ArrayList<>();

  @BeforeEach
  void tiny() {
    cfg = LlamaConfig.preset("llama-tiny");
    hf = HfConfig.from(cfg, 0, 0);
  }

  @AfterEach
  void close() {
    open.forEach(StageModel::close);
  }

  @Test
  void exportsTheNewestCommittedStepWithHfNamesAndIdenticalLogits() throws Exception {
    Path runDir = tmp.resolve("run");
    String root = runDir.resolve("checkpoints").toUri().toString();
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, new Configuration());
    List<StageModel> trained = stages(11);
    writeStep(store, 2, trained);
    store.commit(2, "L", "plan-hash");
    // A newer step whose chunk failed half-way: files of stage 0 only, never committed.
    writeStage(store, 4, 0, stages(99).get(0));
    // The run's plan.json carries the model spec (DESIGN.md §5.2); export reads it from there.
    Files.createDirectories(runDir);
    Files.writeString(runDir.resolve("plan.json"), "{\"format\":\"skippipe-plan/1\",\"model\":"
        + Files.readString(ROOT.resolve("conf/models/llama-tiny.json")) + "}");

    // Data preparation recorded the run's tokenizer; its special ids are not the bundled 0.
    byte[] tokenizer = ownTokenizer();
    Files.write(runDir.resolve("tokenizer.json"), tokenizer);

    Path out = tmp.resolve("hf");
    Run r = run("--checkpoint", root, "--out", out.toString());
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("exported step 2 "), r.out);

    assertEquals(new TreeSet<>(List.of("config.json", "generation_config.json",
        "model.safetensors", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json")), new TreeSet<>(list(out)));
    assertArrayEquals(tokenizer, Files.readAllBytes(out.resolve("tokenizer.json")));
    assertEquals(expectedTensors(), headerShapes(out.resolve("model.safetensors")));

    JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
    assertEquals("llama", config.get("model_type").asText());
    assertEquals("LlamaForCausalLM", config.get("architectures").get(0).asText());
    assertEquals(cfg.dim(), config.get("hidden_size").asInt());
    assertEquals(cfg.ffnDim(), config.get("intermediate_size").asInt());
    assertEquals(cfg.layers(), config.get("num_hidden_layers").asInt());
    assertEquals(cfg.heads(), config.get("num_attention_heads").asInt());
    assertEquals(cfg.kvHeads(), config.get("num_key_value_heads").asInt());
    assertEquals(cfg.vocab(), config.get("vocab_size").asInt());
    assertEquals(cfg.normEps(), config.get("rms_norm_eps").asDouble());
    assertEquals(cfg.ropeTheta(), config.get("rope_theta").asDouble());
    JsonNode gen = JSON.readTree(out.resolve("generation_config.json").toFile());
    assertSpecialTokens(out, config, gen);

    // Re-import into differently initialised stages: identical logits to the checkpointed ones.
    int[] ids = new SplittableRandom(5).ints(cfg.seqLen(), 0, cfg.vocab()).toArray();
    List<StageModel> reloaded = stages(12345);
    float[] before = logits(reloaded, ids);
    Map<String, float[]> loaded = new LinkedHashMap<>();
    ModelExport.load(out).weights().forEach((k, t) -> loaded.put(k, t.data()));
    reloaded.forEach(s -> s.importWeights(loaded));
    float[] expected = logits(trained, ids);
    assertFalse(Arrays.equals(expected, before), "the fresh stages must differ before the import");
    assertArrayEquals(expected, logits(reloaded, ids));
  }

  @Test
  void shardsWithAnIndexWhenLargerThanTheLimit() throws Exception {
    String root = tmp.resolve("ckpt").toUri().toString();
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, new Configuration());
    writeStep(store, 6, stages(3));
    store.commit(6, "L", "plan-hash");
    Path out = tmp.resolve("sharded");
    long limit = 400_000;
    Files.write(tmp.resolve("tokenizer.json"), Corpus.tokenizerJson()); // RUN_DIR = tmp
    Run r = run("--checkpoint", root + "/step-000006", "--out", out.toString(), "--model",
        "llama-tiny", "--max-shard-bytes", Long.toString(limit));
    assertEquals(0, r.code, r.err);
    JsonNode index = JSON.readTree(out.resolve("model.safetensors.index.json").toFile());
    Map<String, long[]> all = new TreeMap<>();
    TreeSet<String> shards = new TreeSet<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = index.get("weight_map").fields();
        it.hasNext(); ) {
      shards.add(it.next().getValue().asText());
    }
    assertTrue(shards.size() > 1, "expected several shards, got " + shards);
    for (String shard : shards) {
      Map<String, long[]> inShard = headerShapes(out.resolve(shard));
      inShard.forEach((k, v) -> assertEquals(shard, index.get("weight_map").get(k).asText()));
      all.putAll(inShard);
      long payload = inShard.values().stream().mapToLong(s -> 4 * Arrays.stream(s)
          .reduce(1, (a, b) -> a * b)).sum();
      assertTrue(payload <= limit || inShard.size() == 1, shard + " holds " + payload + " bytes");
    }
    assertEquals(expectedTensors().keySet(), all.keySet());
  }

  /**
   * Issue 10: BOS/EOS/PAD ids come from the run's tokenizer, and every token named in
   * tokenizer_config.json and special_tokens_map.json is a special token of tokenizer.json with
   * that id (else AutoTokenizer falls back to defaults outside the vocabulary).
   */
  private static void assertSpecialTokens(Path out, JsonNode config, JsonNode gen)
      throws IOException {
    Map<String, Integer> special = new TreeMap<>();
    for (JsonNode t : JSON.readTree(out.resolve("tokenizer.json").toFile()).get("added_tokens")) {
      if (t.get("special").asBoolean()) {
        special.put(t.get("content").asText(), t.get("id").asInt());
      }
    }
    assertEquals(Map.of("<pad>", 0, "<|endoftext|>", 1), special);
    for (JsonNode c : List.of(config, gen)) {
      assertEquals(1, c.get("bos_token_id").asInt(), "the packer starts documents with EOS");
      assertEquals(1, c.get("eos_token_id").asInt());
      assertEquals(0, c.get("pad_token_id").asInt());
    }
    JsonNode tc = JSON.readTree(out.resolve("tokenizer_config.json").toFile());
    JsonNode map = JSON.readTree(out.resolve("special_tokens_map.json").toFile());
    for (JsonNode names : List.of(tc, map)) {
      assertEquals("<|endoftext|>", names.get("bos_token").asText());
      assertEquals("<|endoftext|>", names.get("eos_token").asText());
      assertEquals("<pad>", names.get("pad_token").asText());
      for (String k : List.of("bos_token", "eos_token", "pad_token")) {
        assertTrue(special.containsKey(names.get(k).asText()), k + " not in tokenizer.json");
      }
    }
    assertEquals(config.get("pad_token_id").asInt(), special.get(tc.get("pad_token").asText()));
    assertEquals("PreTrainedTokenizerFast", tc.get("tokenizer_class").asText());
    JsonNode decoder = tc.get("added_tokens_decoder");
    special.forEach((content, id) -> assertEquals(content,
        decoder.get(Integer.toString(id)).get("content").asText()));
  }

  /** A tokenizer of our own with two special tokens: {@code <pad>} = 0, {@code <|endoftext|>} = 1. */
  private static byte[] ownTokenizer() {
    return BpeTrainer.train(List.of(Corpus.trainDocuments().get(3).substring(0, 20_000)), 600,
        List.of("<pad>", BpeTrainer.END_OF_TEXT)).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Issue 9 item 4: export writes to HDFS (MiniDFSCluster) and S3A (moto) through Hadoop streams —
   * the same bytes as a local export, sharded too, no side files — and {@code eval --model-dir}
   * reads such a folder back to the same model.
   */
  @Test
  void exportsToHdfsAndS3aAndTheFoldersLoadBack() throws Exception {
    String root = tmp.resolve("run/checkpoints").toUri().toString();
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, new Configuration());
    writeStep(store, 2, stages(21));
    store.commit(2, "L", "plan-hash");
    Files.write(tmp.resolve("run/tokenizer.json"), Corpus.tokenizerJson());
    Path local = tmp.resolve("local");
    String limit = "400000"; // several shards and an index
    assertEquals(0, run("--checkpoint", root, "--out", local.toString(), "--model", "llama-tiny",
        "--max-shard-bytes", limit).code);
    List<String> names = list(local).stream().sorted().toList();
    assertTrue(names.contains("model.safetensors.index.json"), names.toString());
    try (MiniHdfs hdfs = MiniHdfs.start(); MotoS3 s3 = MotoS3.start()) {
      s3.createBucket("models");
      List<String> d = new ArrayList<>();
      s3.hadoopConf().forEach((k, v) -> d.addAll(List.of("-D", k + "=" + v)));
      Configuration conf = new Configuration();
      s3.hadoopConf().forEach(conf::set);
      for (String out : List.of(hdfs.uri() + "/models/tiny", "s3a://models/tiny")) {
        List<String> args = new ArrayList<>(List.of("--checkpoint", root, "--out", out,
            "--model", "llama-tiny", "--max-shard-bytes", limit));
        args.addAll(d);
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.code, r.err);
        assertEquals(names, io.skippipe.job.spark.HadoopFolders.list(out, conf), out);
        for (String name : names) {
          org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(out + "/" + name);
          try (java.io.InputStream in = p.getFileSystem(conf).open(p)) {
            assertArrayEquals(Files.readAllBytes(local.resolve(name)), in.readAllBytes(),
                out + "/" + name);
          }
        }
        try (io.skippipe.job.eval.LoadedModel fromLocal =
                io.skippipe.job.eval.LoadedModel.fromHfFolder(local.toString(), 1, null, conf);
            io.skippipe.job.eval.LoadedModel remote =
                io.skippipe.job.eval.LoadedModel.fromHfFolder(out, 1, null, conf)) {
          assertEquals(fromLocal.config(), remote.config(), out);
        }
      }
    }
  }

  @Test
  void exportWithoutTheRunsTokenizerAsksForOne() throws Exception {
    String root = tmp.resolve("run2/checkpoints").toUri().toString();
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, new Configuration());
    writeStep(store, 2, stages(4));
    store.commit(2, "L", "plan-hash");
    Run r = run("--checkpoint", root, "--out", tmp.resolve("o").toString(), "--model",
        "llama-tiny");
    assertEquals(2, r.code, r.out);
    assertTrue(r.err.contains("no --tokenizer given and no ") && r.err.contains("tokenizer.json"),
        r.err);
    Run missing = run("--checkpoint", root, "--out", tmp.resolve("o").toString(), "--model",
        "llama-tiny", "--tokenizer", tmp.resolve("nope.json").toString());
    assertEquals(2, missing.code);
    assertTrue(missing.err.contains("is not a file"), missing.err);
    Path own = tmp.resolve("own.json");
    Files.write(own, ownTokenizer());
    Run given = run("--checkpoint", root, "--out", tmp.resolve("o").toString(), "--model",
        "llama-tiny", "--tokenizer", own.toString());
    assertEquals(0, given.code, given.err);
    assertArrayEquals(Files.readAllBytes(own),
        Files.readAllBytes(tmp.resolve("o/tokenizer.json")));
  }

  @Test
  void userErrorsExitTwoWithTheFix() throws Exception {
    String empty = tmp.resolve("empty").toUri().toString();
    Run none = run("--checkpoint", empty, "--out", tmp.resolve("o1").toString(), "--model",
        "llama-tiny");
    assertEquals(2, none.code);
    assertTrue(none.err.contains("no committed checkpoint under"), none.err);

    String root = tmp.resolve("ckpt").toUri().toString();
    writeStage(new HadoopCheckpointStore(root, new Configuration()), 8, 0, stages(1).get(0));
    Run uncommitted = run("--checkpoint", root + "/step-000008", "--out",
        tmp.resolve("o2").toString(), "--model", "llama-tiny");
    assertEquals(2, uncommitted.code);
    assertTrue(uncommitted.err.contains("is not committed"), uncommitted.err);

    Run missing = run("--out", tmp.resolve("o3").toString());
    assertEquals(2, missing.code);
    assertTrue(missing.err.contains("Missing required option: '--checkpoint"), missing.err);
  }

  // --- helpers ----------------------------------------------------------------------------------

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] withCommand = new String[args.length + 1];
    withCommand[0] = "export";
    System.arraycopy(args, 0, withCommand, 1, args.length);
    int code = SkipPipeCli.run(withCommand, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private List<StageModel> stages(long seed) {
    List<StageModel> s = new ArrayList<>();
    for (int i = 0; i < cfg.stages(); i++) {
      StageModel m = StageModel.create(cfg, i, seed);
      open.add(m);
      s.add(m);
    }
    return s;
  }

  /** What the runtime's stage tasks write at a checkpoint (StageState), replica 0 of each stage. */
  private void writeStep(HadoopCheckpointStore store, long step, List<StageModel> stages)
      throws IOException {
    for (int s = 0; s < stages.size(); s++) {
      writeStage(store, step, s, stages.get(s));
    }
  }

  private void writeStage(HadoopCheckpointStore store, long step, int s, StageModel stage)
      throws IOException {
    StageState.save(store, step, s, 0, stage, new AdamW(stage, AdamWConfig.llamaDefaults()));
  }

  /** Logits of the whole model (every stage in order) for one sequence, on the graph API. */
  private float[] logits(List<StageModel> stages, int[] ids) {
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray idsBT = manager.create(Arrays.stream(ids).asLongStream().toArray(),
          new Shape(1, ids.length));
      NDArray hiddenBTD = stages.get(0).applyLayers(stages.get(0).embed(idsBT));
      for (int s = 1; s < stages.size(); s++) {
        hiddenBTD = stages.get(s).applyLayers(hiddenBTD);
      }
      return stages.get(0).logits(hiddenBTD).toFloatArray();
    }
  }

  /** HF LLaMA tensor names and shapes for the tiny config, written out from the HF layout. */
  private Map<String, long[]> expectedTensors() {
    long d = cfg.dim();
    long headDim = d / cfg.heads();
    long q = cfg.heads() * headDim;
    long kv = cfg.kvHeads() * headDim;
    long f = cfg.ffnDim();
    Map<String, long[]> m = new TreeMap<>();
    m.put("model.embed_tokens.weight", new long[] {cfg.vocab(), d});
    for (int i = 0; i < cfg.layers(); i++) {
      String p = "model.layers." + i + ".";
      m.put(p + "input_layernorm.weight", new long[] {d});
      m.put(p + "self_attn.q_proj.weight", new long[] {q, d});
      m.put(p + "self_attn.k_proj.weight", new long[] {kv, d});
      m.put(p + "self_attn.v_proj.weight", new long[] {kv, d});
      m.put(p + "self_attn.o_proj.weight", new long[] {d, q});
      m.put(p + "post_attention_layernorm.weight", new long[] {d});
      m.put(p + "mlp.gate_proj.weight", new long[] {f, d});
      m.put(p + "mlp.up_proj.weight", new long[] {f, d});
      m.put(p + "mlp.down_proj.weight", new long[] {d, f});
    }
    m.put("model.norm.weight", new long[] {d});
    m.put("lm_head.weight", new long[] {cfg.vocab(), d});
    return new ShapeMap(m);
  }

  /**
   * A safetensors file's tensors and shapes, parsed here from the format's definition (8-byte
   * little-endian header length, JSON header, contiguous F32 data), not with the model's reader.
   */
  private static Map<String, long[]> headerShapes(Path file) throws IOException {
    byte[] all = Files.readAllBytes(file);
    long headerLen = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    JsonNode header = JSON.readTree(new String(all, 8, (int) headerLen, StandardCharsets.UTF_8));
    Map<String, long[]> shapes = new TreeMap<>();
    long dataBytes = all.length - 8 - headerLen;
    long covered = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__")) {
        continue;
      }
      assertEquals("F32", e.getValue().get("dtype").asText(), e.getKey());
      JsonNode shapeNode = e.getValue().get("shape");
      long[] shape = new long[shapeNode.size()];
      long numel = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeNode.get(i).asLong();
        numel *= shape[i];
      }
      JsonNode off = e.getValue().get("data_offsets");
      assertEquals(4 * numel, off.get(1).asLong() - off.get(0).asLong(), e.getKey());
      covered += 4 * numel;
      shapes.put(e.getKey(), shape);
    }
    assertEquals(dataBytes, covered, file + ": data section vs tensors");
    return new ShapeMap(shapes);
  }

  private static List<String> list(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).toList();
    }
  }

  /** A name → shape map whose equality compares the shapes' contents (for assertEquals). */
  private static final class ShapeMap extends TreeMap<String, long[]> {
    ShapeMap(Map<String, long[]> m) {
      super(m);
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof Map<?, ?> other) || !keySet().equals(other.keySet())) {
        return false;
      }
      return entrySet().stream().allMatch(e -> other.get(e.getKey()) instanceof long[] v
          && Arrays.equals(e.getValue(), v));
    }

    @Override
    public int hashCode() {
      return keySet().hashCode();
    }

    @Override
    public String toString() {
      StringBuilder b = new StringBuilder("{");
      forEach((k, v) -> b.append(k).append('=').append(Arrays.toString(v)).append(", "));
      return b.append('}').toString();
    }
  }
}
