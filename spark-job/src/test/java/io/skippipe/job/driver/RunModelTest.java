package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.model.LlamaConfig;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 item 7 and the planning side of item 5: the model a run trains, fitted to the cluster it
 * plans on ({@link RunModel}).
 */
class RunModelTest {
  @TempDir Path tmp;

  static JobConfig config(Map<String, String> extra) {
    Map<String, String> m = new HashMap<>(Map.of("spark.skippipe.run.dir", "target/run-model",
        "spark.skippipe.network.mode", "direct"));
    m.putAll(extra);
    return JobConfig.parse(m);
  }

  static byte[] read(String uri) {
    try {
      return Files.readAllBytes(Path.of(uri));
    } catch (java.io.IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Every shipped cluster preset with every shipped model preset plans (the full planner, its
   * validator included): equal whole layers per stage, the cluster's stage count where it divides
   * the layers, else the nearest divisor with every node still in a stage. No training: the big
   * models only need a plan here.
   */
  @Test
  void everyShippedClusterAndModelPresetPairPlans() {
    List<String> clusters = Presets.names("clusters");
    List<String> models = Presets.names("models");
    assertTrue(clusters.size() >= 6 && models.containsAll(LlamaConfig.PRESETS), clusters + " "
        + models);
    List<String> regrouped = new ArrayList<>();
    for (String c : clusters) {
      ClusterProfile cluster = Presets.cluster(c);
      for (String m : models) {
        ModelSpec spec = Presets.model(m);
        String pair = c + " x " + m;
        Map<String, String> keys = Map.of("spark.skippipe.cluster", c, "spark.skippipe.model", m);
        // the planner's default path length K - ceil(K/4): main's default skip ratio 0.33 is
        // reachable only with 3, 6, 9... stages
        int k = RunModel.fit(config(keys), cluster, RunModelTest::read).model().stages();
        Map<String, String> withPath = new HashMap<>(keys);
        withPath.put("spark.skippipe.plan.pathLength", "" + (k - (k + 3) / 4));
        Plan plan = JobPlanning.plan(config(withPath), RunModelTest::read).plan();
        ModelSpec planned = plan.model();
        assertEquals(spec.layers(), planned.layers(), pair);
        assertEquals(spec.dim(), planned.dim(), pair);
        int stages = plan.stages().size();
        assertEquals(planned.layers(), stages * planned.layersPerStage(), pair);
        assertEquals(cluster.size(), plan.nodeCount(), pair + ": every node keeps a role");
        if (spec.layers() % cluster.stageCount() == 0) {
          assertEquals(cluster.stageCount(), stages, pair + ": the cluster's own stages");
        } else {
          regrouped.add(pair + " -> " + stages + " stages " + plan.cluster().stageSizes());
          for (int d = 1; d <= cluster.size(); d++) { // no divisor lies nearer the stage count
            if (spec.layers() % d == 0) {
              assertTrue(Math.abs(d - cluster.stageCount())
                  >= Math.abs(stages - cluster.stageCount()), pair + ": " + d + " is nearer");
            }
          }
        }
        LlamaConfig llama = Models.llama(planned); // what every stage task builds
        assertEquals(stages, llama.stages(), pair);
      }
    }
    System.out.println("regrouped: " + regrouped);
    // the shipped presets that need it: llama-8b (32 layers) on the 6-stage clusters, llama-tiny
    // (12 layers) on the 8-stage one
    assertTrue(regrouped.stream().anyMatch(p -> p.startsWith("geo-distributed-gcp-20 x llama-8b"
        + " -> 8 stages [5, 3, 2, 2, 2, 2, 2, 2]")), regrouped.toString());
    assertTrue(regrouped.stream().anyMatch(p -> p.startsWith("geo-distributed-gcp-42 x llama-tiny"
        + " -> 6 stages [7, 7, 7, 7, 7, 7]")), regrouped.toString());
  }

  @Test
  void layersPerStageFollowTheClusterUnlessFixed() {
    ClusterProfile geo42 = Presets.cluster("geo-distributed-gcp-42"); // 8 stages
    JobConfig derived = config(Map.of("spark.skippipe.model", "llama-500m"));
    RunModel.Fit fit = RunModel.fit(derived, geo42, RunModelTest::read);
    assertEquals(3, fit.model().layersPerStage(), "24 layers over 8 stages");
    assertEquals(geo42.stageSizes(), fit.cluster().stageSizes());
    assertTrue(fit.notes().isEmpty());

    JobConfig fixed = config(Map.of("spark.skippipe.model", "llama-500m",
        "spark.skippipe.model.layersPerStage", "4"));
    fit = RunModel.fit(fixed, geo42, RunModelTest::read);
    assertEquals(4, fit.model().layersPerStage());
    assertEquals(List.of(7, 7, 7, 7, 7, 7), fit.cluster().stageSizes(), "42 nodes in 6 stages");
    assertTrue(fit.notes().get(0).contains("spark.skippipe.model.layersPerStage"), fit.notes()
        .toString());

    JobConfig bad = config(Map.of("spark.skippipe.model", "llama-500m",
        "spark.skippipe.model.layersPerStage", "5"));
    String m = assertThrows(ConfigException.class,
        () -> RunModel.fit(bad, geo42, RunModelTest::read)).getMessage();
    assertTrue(m.contains("spark.skippipe.model.layersPerStage='5'") && m.contains("[1, 2, 3, 4,"
        + " 6, 8, 12, 24]"), m);
  }

  /** The folder's config.json gives the architecture; the model spec gives the workload. */
  @Test
  void aHuggingFaceFolderGivesTheArchitectureAndTheTokenizer() throws Exception {
    Path folder = Files.createDirectories(tmp.resolve("llama-hf"));
    Files.writeString(folder.resolve("config.json"), """
        {"architectures": ["LlamaForCausalLM"], "hidden_size": 128, "intermediate_size": 352,
         "num_attention_heads": 8, "num_key_value_heads": 2, "num_hidden_layers": 6,
         "vocab_size": 2048, "rope_theta": 500000.0, "tie_word_embeddings": true}
        """);
    JobConfig cfg = config(Map.of("spark.skippipe.model.init", folder + "/",
        "spark.skippipe.model", "llama-tiny", "spark.skippipe.train.precision", "bf16"));
    assertEquals(folder + "/tokenizer.json", cfg.data().tokenizer());
    JobConfig own = config(Map.of("spark.skippipe.model.init", folder.toString(),
        "spark.skippipe.data.tokenizer", "/data/tok.json"));
    assertEquals("/data/tok.json", own.data().tokenizer(), "data.tokenizer wins when set");

    ModelSpec spec = JobPlanning.modelSpec(cfg, RunModelTest::read);
    ModelSpec tiny = Presets.model("llama-tiny");
    assertEquals(List.of(128, 6, 8, 2, 352, 2048), List.of(spec.dim(), spec.layers(),
        spec.heads(), spec.kvHeads(), spec.ffnDim(), spec.vocab()));
    assertEquals(List.of(tiny.seqLen(), tiny.samplesPerMicrobatch(),
        tiny.microbatchesPerDataNode()), List.of(spec.seqLen(), spec.samplesPerMicrobatch(),
        spec.microbatchesPerDataNode()), "the workload comes from spark.skippipe.model");
    assertEquals(1, spec.layersPerStage(), "6 layers over laptop-geo-12's 6 stages");
    assertEquals(2, spec.activationBytesPerElement(), "bf16 on the wire");
    assertEquals("hf:llama-hf", spec.name());

    Files.writeString(folder.resolve("config.json"), new String(read(folder + "/config.json"),
        StandardCharsets.UTF_8).replace("\"hidden_size\"", "\"rope_scaling\": {\"factor\": 8},"
        + " \"hidden_size\""));
    String m = assertThrows(ConfigException.class, () -> JobPlanning.modelSpec(cfg,
        RunModelTest::read)).getMessage();
    assertTrue(m.startsWith("spark.skippipe.model.init=") && m.contains("rope_scaling"), m);
    JobConfig missing = config(Map.of("spark.skippipe.model.init", tmp.resolve("nope")
        .toString()));
    m = assertThrows(ConfigException.class, () -> JobPlanning.modelSpec(missing,
        RunModelTest::read)).getMessage();
    assertTrue(m.contains("cannot read") && m.contains("nope/config.json"), m);
  }
}
