package io.skippipe.job.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.scheduler.plan.PlanCodec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Evaluation during training and the console: the real job (toy 4-stage plan, 2 chunks of 1
 * iteration) with {@code spark.skippipe.eval.everyCommits=1} writes one {@code metrics/eval.jsonl}
 * line per commit, each equal to {@link Perplexity} on that step's weights loaded independently,
 * announces every phase and ends with the timeline page it wrote; bad eval settings stop the run
 * before any work.
 */
class TrainingEvalTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);
  @TempDir Path dir;

  @Test
  void everyCommitIsEvaluatedIntoTheMetrics() throws Exception {
    Path planFile = dir.resolve("plan.json");
    Files.writeString(planFile, PlanCodec.toJsonString(TestPlans.skippipe()));
    Path text = dir.resolve("train.txt");
    Files.writeString(text, String.join("\f\n", Corpus.trainDocuments().subList(0, 30)));
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", dir.resolve("run").toString());
    m.put("spark.skippipe.plan.file", planFile.toString());
    m.put("spark.skippipe.network.mode", "direct");
    m.put("spark.skippipe.data.input", text.toString());
    m.put("spark.skippipe.train.iterations", "2");
    m.put("spark.skippipe.train.chunkIterations", "1");
    m.put("spark.skippipe.train.learningRate", "0.01");
    m.put("spark.skippipe.metrics.progress", "false");
    m.put("spark.skippipe.eval.everyCommits", "1");
    m.put("spark.skippipe.eval.sequences", "4");
    m.put("spark.skippipe.eval.halfSubsets", "1");
    m.put("spark.skippipe.eval.omitStages", "1,3");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    JobConfig cfg = JobConfig.parse(m);
    SkipPipeJob.run(spark.session(), cfg, Map.of(),
        new PrintStream(console, true, StandardCharsets.UTF_8));
    String printed = console.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("[skippipe] eval step 1: perplexity")
        && printed.contains("[skippipe] eval step 2: perplexity"), printed);
    // the console announces every phase, then ends with the timeline
    for (String phase : List.of("[skippipe] checking the settings and reading the plan ", "[skippipe] planned skippipe on"
        + " toy-6 / toy: predicted iteration", "vs ", "[skippipe] preparing data from ",
        "[skippipe] data: ", "[skippipe] rendezvous of 6 task slots ...",
        "[skippipe] rendezvous: 6 task slots on 1 executor", "[skippipe] training 2 iterations in"
        + " chunks of 1", "[skippipe] chunk 1/2: iteration 1 ...", "[skippipe] chunk 1/2 done",
        "[skippipe] chunk 2/2 done", "  timeline: ")) {
      assertTrue(printed.contains(phase), "'" + phase + "' in:\n" + printed);
    }
    assertTrue(Files.readString(dir.resolve("run/timeline.html")).contains("measured ("),
        "the run's timeline page");

    List<String> lines = Files.readAllLines(dir.resolve("run/metrics/eval.jsonl"));
    assertEquals(2, lines.size(), String.join("\n", lines));
    LlamaConfig llama = Models.llama(TestPlans.MODEL);
    List<int[]> seqs;
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      seqs = HeldOutText.sequences(Corpus.validationDocuments(), tok, llama.seqLen(), 4);
    }
    HadoopCheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(),
        new Configuration());
    double[] all = new double[2];
    for (int i = 0; i < 2; i++) {
      JsonNode j = new ObjectMapper().readTree(lines.get(i));
      assertEquals(i + 1, j.get("step").asLong());
      List<StageModel> stages = new ArrayList<>();
      try {
        for (int s = 0; s < llama.stages(); s++) {
          StageModel sm = StageModel.create(llama, s, 99);
          stages.add(sm);
          try (AdamW opt = new AdamW(sm, AdamWConfig.llamaDefaults())) {
            StageState.load(store, i + 1, s, 0, sm, opt);
          }
        }
        all[i] = j.get("meanNll").asDouble();
        assertEquals(Perplexity.evaluate(stages, seqs, Set.of(), 1).meanNll(), all[i], 1e-5);
        JsonNode given = j.get("omitted").get(j.get("omitted").size() - 1);
        assertEquals("given", given.get("kind").asText());
        assertEquals(Perplexity.evaluate(stages, seqs, Set.of(1, 3), 1).meanNll(),
            given.get("meanNll").asDouble(), 1e-5);
        assertEquals(3 + 1 + 1, j.get("omitted").size(), "3 single, 1 half, 1 given");
      } finally {
        stages.forEach(StageModel::close);
      }
    }
    assertNotEquals(all[0], all[1], "the weights changed between the commits");
  }

  @Test
  void badEvalSettingsAreConfigErrors() {
    assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.eval.omitStages", "2;x")));
    assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.eval.everyCommits", "-1")));
    for (String bad : List.of("0", "4", "1;2,9")) {
      JobConfig cfg = JobConfig.parse(Map.of("spark.skippipe.eval.omitStages", bad));
      ConfigException e = assertThrows(ConfigException.class, () -> TrainingEval.create(cfg,
          Models.llama(TestPlans.MODEL), Map.of(), System.out));
      assertTrue(e.getMessage().contains("spark.skippipe.eval.omitStages"), e.getMessage());
    }
    JobConfig missing = JobConfig.parse(Map.of("spark.skippipe.eval.everyCommits", "1",
        "spark.skippipe.eval.data", dir.resolve("nope.txt").toString()));
    ConfigException e = assertThrows(ConfigException.class, () -> TrainingEval.create(missing,
        Models.llama(TestPlans.MODEL), Map.of(), System.out));
    assertTrue(e.getMessage().contains("spark.skippipe.eval.data"), e.getMessage());
  }
}
