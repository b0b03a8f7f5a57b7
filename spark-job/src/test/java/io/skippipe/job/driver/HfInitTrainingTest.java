package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.eval.LoadedModel;
import io.skippipe.job.export.CheckpointExport;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.ModelInit;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.LlamaTensors;
import io.skippipe.model.weights.ModelExport;
import io.skippipe.model.weights.Safetensors;
import io.skippipe.scheduler.plan.Plan;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 9 item 5 in the runtime: {@code spark.skippipe.model.init} points at a Hugging Face folder
 * (random weights written by our exporter, a hand-written config.json with tied embeddings and
 * rope_theta 500000). Stage tasks in Spark local[6] barrier mode load their layers from it (no
 * training: the stages equal the folder) and train 2 iterations from it to the same weights as
 * the single-process PathTrainer started from the folder's weights on the same model; the trained
 * checkpoint exports as a tied, rope_theta 500000 folder; the plan uses the folder's dimensions
 * and the run's tokenizer is the folder's.
 */
class HfInitTrainingTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);

  /** TestPlans.MODEL's architecture as a hand-written config.json, tied, RoPE base 500000. */
  static final String CONFIG_JSON = """
      {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "num_hidden_layers": 4,
        "vocab_size": 1024,
        "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": true,
        "bos_token_id": 0,
        "eos_token_id": 0
      }
      """;

  /** Writes the folder with our exporter, then replaces its config.json with the text above. */
  static Map<String, float[]> writeFolder(Path dir) throws Exception {
    HfConfig hf = HfConfig.parse(CONFIG_JSON);
    Map<String, Safetensors.Tensor> tensors = new LinkedHashMap<>();
    Map<String, float[]> values = new LinkedHashMap<>();
    SplittableRandom r = new SplittableRandom(3);
    LlamaTensors.model(hf).forEach((name, shape) -> {
      float[] v = new float[(int) LlamaTensors.numel(shape)];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) ((shape.length == 1 ? 1 : 0) + 0.05 * r.nextGaussian());
      }
      tensors.put(name, new Safetensors.Tensor(shape, v));
      values.put(name, v);
    });
    Path tokenizer = Files.createTempFile("tokenizer", ".json");
    try (var in = HfInitTrainingTest.class.getResourceAsStream(
        io.skippipe.model.data.Corpus.TOKENIZER)) {
      Files.copy(in, tokenizer, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    ModelExport.export(dir, hf, tensors, tokenizer, 40_000); // several shards + index
    Files.delete(tokenizer);
    Files.writeString(dir.resolve("config.json"), CONFIG_JSON);
    return values;
  }

  static JobConfig config(String runDir, String init) {
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", runDir);
    m.put("spark.skippipe.model.init", init);
    m.put("spark.skippipe.seed", "17");
    m.put("spark.skippipe.network.mode", "direct");
    m.put("spark.skippipe.train.iterations", "2");
    m.put("spark.skippipe.train.chunkIterations", "1");
    m.put("spark.skippipe.train.learningRate", "0.01");
    m.put("spark.skippipe.transfer.readTimeoutMs", "30000");
    return JobConfig.parse(m);
  }

  @Test
  void stagesStartFromTheFolderTrainAsTheReferenceAndExportTied() throws Exception {
    Path base = Files.createDirectories(new File("target/hf-init/run-" + System.nanoTime())
        .getAbsoluteFile().toPath());
    Path folder = base.resolve("hf-model");
    Map<String, float[]> initial = writeFolder(folder);
    assertTrue(Files.exists(folder.resolve(ModelExport.INDEX)), "the folder should be sharded");
    String runDir = base.resolve("run").toString();
    JobConfig cfg = config(runDir, folder.toString());
    assertEquals(folder + "/tokenizer.json", cfg.data().tokenizer(),
        "model.init implies the folder's tokenizer");
    Configuration conf = HadoopConfs.current();
    Plan plan = TestPlans.skippipe(); // TestPlans.MODEL has the folder's dimensions

    // the model every stage task builds: the folder's architecture, the plan's cut
    LlamaConfig llama = ModelInit.llama(cfg, plan.model(), conf);
    assertEquals(new LlamaConfig(32, 4, 2, 1, 64, 1024, plan.model().seqLen(), 1, 1e-5, 500000.0,
        true), llama);
    // 0 iterations: each stage, loaded as a task loads it, holds exactly the folder's weights
    for (int s = 0; s < llama.stages(); s++) {
      try (StageModel st = StageModel.create(llama, s, 1)) {
        ModelInit.loadWeights(cfg, st, conf);
        st.exportWeights().forEach((n, v) -> assertArrayEquals(initial.get(n), v, 0f, n));
      }
    }

    // 2 iterations in Spark from the folder = the PathTrainer from the folder's weights
    Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, runDir, conf, 3);
    ChunkedTraining.Outcome out = SparkTrainingHarness.train(spark.jsc(), plan, cfg, "hf-init",
        shards, Map.of());
    assertEquals(2, out.lastStep());
    CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(), conf);
    Map<Integer, Map<String, float[]>> expected = SparkTrainingHarness.reference(plan, cfg,
        shards, conf, 2, llama, initial);
    double worst = SparkTrainingHarness.worstDifference(plan, store, 2, expected, llama);
    assertTrue(worst <= SparkTrainingHarness.REFERENCE_TOLERANCE, "weights differ from the"
        + " PathTrainer's by " + worst);
    double moved = 0;
    for (Map<String, float[]> stage : expected.values()) {
      for (Map.Entry<String, float[]> e : stage.entrySet()) {
        for (int i = 0; i < e.getValue().length; i++) {
          moved = Math.max(moved, Math.abs(e.getValue()[i] - initial.get(e.getKey())[i]));
        }
      }
    }
    assertTrue(moved > 1e-3, "training should move the weights: " + moved);

    // export: a tied model with the folder's RoPE base, the checkpoint's weights
    Path exported = base.resolve("exported");
    Path tokenizer = folder.resolve("tokenizer.json");
    CheckpointExport.export(cfg.checkpointRoot(), exported.toString(), null,
        tokenizer.toString(), ModelExport.DEFAULT_MAX_SHARD_BYTES, conf);
    JsonNode config = new ObjectMapper().readTree(exported.resolve("config.json").toFile());
    assertTrue(config.get("tie_word_embeddings").asBoolean(), config.toString());
    assertEquals(500000.0, config.get("rope_theta").asDouble(), config.toString());
    ModelExport.Loaded loaded = ModelExport.load(exported);
    assertTrue(!loaded.weights().containsKey(LlamaTensors.LM_HEAD), "a tied export has no head");
    for (int s = 0; s < llama.stages(); s++) {
      for (Map.Entry<String, float[]> e : expected.get(s).entrySet()) {
        float[] got = loaded.weights().get(e.getKey()).data();
        for (int i = 0; i < got.length; i++) {
          assertEquals(e.getValue()[i], got[i], SparkTrainingHarness.REFERENCE_TOLERANCE,
              e.getKey());
        }
      }
    }

    // eval reads the architecture the checkpoint records (tied, theta 500000), not plan.json's
    // spec, and gives the exported folder's perplexity
    try (LoadedModel fromCheckpoint = LoadedModel.load(LoadedModel.resolve(
            cfg.checkpointRoot(), null, null, conf), null, conf);
        LoadedModel fromFolder = LoadedModel.fromHfFolder(exported.toString(),
            llama.layersPerStage(), llama.seqLen(), conf)) {
      assertEquals(llama, fromCheckpoint.config());
      assertTrue(fromFolder.config().tieWordEmbeddings(), "the folder's tying is kept");
      assertEquals(500000.0, fromFolder.config().ropeTheta());
      SplittableRandom r = new SplittableRandom(3);
      List<int[]> seqs = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        seqs.add(r.ints(llama.seqLen() + 1, 0, llama.vocab()).toArray());
      }
      double a = Perplexity.evaluate(fromCheckpoint.stages(), seqs, Set.of(), 3).meanNll();
      double b = Perplexity.evaluate(fromFolder.stages(), seqs, Set.of(), 3).meanNll();
      assertEquals(a, b, 1e-6, "checkpoint vs its export");
    }
  }
}
