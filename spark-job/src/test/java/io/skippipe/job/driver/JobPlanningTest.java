package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.plan.PlannerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's planning step without Spark: every plan it runs is validated (plan.file included),
 * the job's default path length is the planner's, and plan.skipRatio=auto tunes.
 */
class JobPlanningTest {
  @TempDir Path dir;

  static JobConfig cfg(String... kv) {
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", "unused");
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return JobConfig.parse(m);
  }

  static final Function<String, byte[]> READ = uri -> {
    try {
      return Files.readAllBytes(Path.of(uri));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  };

  Path write(Plan p) throws Exception {
    Path f = Files.createTempFile(dir, "plan", ".json");
    Files.writeString(f, PlanCodec.toJsonString(p));
    return f;
  }

  @Test
  void theJobsDefaultPathLengthIsThePlannersOnSixAndEightStages() {
    JobPlanning.PlannedRun r = JobPlanning.plan(cfg(), READ);
    int k = r.plan().stages().size();
    assertEquals(PlannerConfig.Limits.defaultPathLength(k), r.plan().constraints().pathLength());
    assertEquals(4, r.plan().constraints().pathLength());
    assertNull(JobPlanning.plannerConfig(cfg()).limits().skipRatio());
    // an 8-stage cluster: 6 of 8 by default; the old job default 0.33 has no path length there
    assertEquals(6, PlannerConfig.Limits.defaultPathLength(8));
    ConfigException e = assertThrows(ConfigException.class, () -> JobPlanning.plan(cfg(
        "spark.skippipe.cluster", "geo-distributed-gcp-42", "spark.skippipe.model", "llama-8b",
        "spark.skippipe.plan.skipRatio", "0.33"), READ));
    assertTrue(e.getMessage().contains("0.2500 (path length 6)"), e.getMessage());
  }

  @Test
  void aGivenPlanFileIsValidatedAndSimulated() throws Exception {
    Plan good = JobPlanning.plan(cfg(), READ).plan();
    JobPlanning.PlannedRun r = JobPlanning.plan(cfg("spark.skippipe.plan.file",
        write(good.withPredicted(null)).toString()), READ);
    assertEquals(good.stages(), r.plan().stages());
    assertEquals(good.iterationSeconds(), r.plan().iterationSeconds(), 1e-9);
    assertTrue(r.warnings().isEmpty(), r.warnings().toString());

    // a path through a node that does not exist: a hard violation naming the key
    List<PlannedMicrobatch> mbs = new ArrayList<>(good.microbatches());
    PlannedMicrobatch m0 = mbs.get(0);
    List<Integer> path = new ArrayList<>(m0.path());
    path.set(1, 42);
    mbs.set(0, new PlannedMicrobatch(m0.id(), m0.dataNode(), 0, path));
    Path bad = write(new Plan(good.format(), good.method(), good.seed(), good.cluster(),
        good.model(), good.constraints(), good.stages(), mbs, null));
    ConfigException e = assertThrows(ConfigException.class,
        () -> JobPlanning.plan(cfg("spark.skippipe.plan.file", bad.toString()), READ));
    assertTrue(e.getMessage().startsWith("spark.skippipe.plan.file="), e.getMessage());
    assertTrue(e.getMessage().contains("UNKNOWN_NODE") && e.getMessage().contains("42"),
        e.getMessage());

    // over the stage cap: a throughput objective, so the job runs it and says so
    Constraints c = good.constraints();
    Path capped = write(new Plan(good.format(), good.method(), good.seed(), good.cluster(),
        good.model(), new Constraints(c.pathLength(), c.maxSwaps(), c.maxSwapDistance(),
            c.maxJump(), c.memory(), 1), good.stages(), good.microbatches(), null));
    JobPlanning.PlannedRun w = JobPlanning.plan(cfg("spark.skippipe.plan.file",
        capped.toString()), READ);
    assertFalse(w.warnings().isEmpty());
    assertTrue(w.warnings().get(0).contains("STAGE_CAP"), w.warnings().toString());
  }

  @Test
  void autoTunesThroughputOnlyAndRecordsTheFrontier() throws Exception {
    JobPlanning.PlannedRun r = JobPlanning.plan(cfg("spark.skippipe.plan.skipRatio", "auto"),
        READ);
    assertNotNull(r.tuneJson());
    JsonNode t = new ObjectMapper().readTree(r.tuneJson());
    assertTrue(t.get("frontier").size() >= 2);
    assertEquals(0, t.get("probes").size());
    assertEquals(r.plan().constraints().pathLength(), t.get("choice").get("pathLength").asInt());
    assertEquals(r.plan().constraints().maxSwaps(), t.get("choice").get("maxSwaps").asInt());
    assertTrue(t.get("rule").asText().startsWith("throughput only"));
    assertEquals(t.get("choice").get("predictedIterationSeconds").asDouble(),
        r.plan().iterationSeconds(), 1e-9);
    assertThrows(ConfigException.class, () -> cfg("spark.skippipe.plan.skipRatio", "auto",
        "spark.skippipe.plan.method", "dtfm"));
    assertThrows(ConfigException.class, () -> cfg("spark.skippipe.plan.tune.probe", "true"));
    assertThrows(ConfigException.class, () -> cfg("spark.skippipe.plan.skipRatio", "often"));
  }

  /**
   * Probes on a small 3-stage model and cluster (two path lengths on the frontier, 4 steps each)
   * to keep the test short; the text is a sample of the bundled corpus given as data.input.
   */
  @Test
  void autoWithProbesTrainsEachFrontierPathLengthOnTheRunsData() throws Exception {
    Path text = dir.resolve("text.txt");
    StringBuilder b = new StringBuilder();
    for (String d : io.skippipe.model.data.Corpus.trainDocuments()) {
      if (b.length() > 50_000) {
        break;
      }
      b.append(d).append('\n');
    }
    Files.writeString(text, b.toString(), StandardCharsets.UTF_8);
    var model = new io.skippipe.scheduler.profile.ModelSpec("probe-3", "", 32, 3, 2, 1, 64,
        1024, 16, 1, 2, 2, 4);
    var nodes = List.of(new io.skippipe.scheduler.profile.Node(0, "A", 1.0, 2),
        new io.skippipe.scheduler.profile.Node(1, "A", 1.0, 2),
        new io.skippipe.scheduler.profile.Node(2, "B", 1.0, 2),
        new io.skippipe.scheduler.profile.Node(3, "C", 1.0, 2));
    var cluster = new io.skippipe.scheduler.profile.ClusterProfile("probe-4", "", nodes,
        List.of(2, 1, 1), Map.of(), new io.skippipe.scheduler.profile.Link(20, 0.001), 0.01,
        0.001, false);
    Path m = dir.resolve("model.json");
    Path c = dir.resolve("cluster.json");
    Files.writeString(m, io.skippipe.scheduler.profile.ProfileJson.toJson(model).toString());
    Files.writeString(c, io.skippipe.scheduler.profile.ProfileJson.toJson(cluster).toString());
    JobPlanning.PlannedRun r = JobPlanning.plan(cfg("spark.skippipe.plan.skipRatio", "auto",
        "spark.skippipe.plan.tune.probe", "true", "spark.skippipe.plan.tune.probeSteps", "4",
        "spark.skippipe.data.input", text.toString(), "spark.skippipe.model", m.toString(),
        "spark.skippipe.cluster", c.toString()), READ);
    JsonNode t = new ObjectMapper().readTree(r.tuneJson());
    assertTrue(t.get("frontier").size() >= 2, t.toString());
    assertEquals(t.get("frontier").size(), t.get("probes").size());
    for (JsonNode p : t.get("probes")) {
      assertEquals(4, p.get("steps").asInt());
      assertTrue(p.get("firstLoss").asDouble() > 5, p.toString()); // ln 1024 = 6.93 at init
    }
    assertTrue(t.get("rule").asText().startsWith("minimum predicted time"), t.toString());
    assertTrue(t.get("choice").has("predictedSecondsToTarget"), t.toString());
    assertEquals(3, r.plan().stages().size());
  }
}
