package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.JobConfig;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.profile.ProfileJson;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spark.skippipe.plan.skipRatio=auto} through the job's own planning step ({@link
 * JobPlanning#plan}: model fit, {@link JobTuning}, validation, hash) and its recording in the run
 * directory ({@link SkipPipeJob#record}), without Spark, on every shipped cluster preset. The
 * planner's search budgets are cut to the bone (GCMA 4×20, no skip-aware search, CBS 40 nodes,
 * 1 goal, 2 children) to keep the test short: the test checks validity and what is recorded, not
 * plan quality; everything else is the job's path.
 */
class AutoTuningPresetsTest {
  @TempDir Path dir;

  /** Every shipped cluster preset with a model preset that fits its stage count. */
  static final Map<String, String> PRESETS = new TreeMap<>(Map.of(
      "geo-distributed-gcp-20", "llama-500m", "single-cluster-20", "llama-500m",
      "five-clusters-20", "llama-1.5b", "geo-distributed-gcp-42", "llama-8b",
      "laptop-geo-12", "llama-tiny", "laptop-geo-12-gcp500m", "llama-tiny"));

  static PlannerConfig quick(JobConfig cfg) {
    PlannerConfig d = JobPlanning.plannerConfig(cfg);
    return d.withAllocation(d.allocation().withGcma(4, 20).withEvaluations(0))
        .withRouting(new PlannerConfig.Routing(40, 1, 2));
  }

  /** Plans with auto and records; returns the recorded tune.json, checked against plan.json. */
  JsonNode autoAndRecord(String name, String... kv) throws Exception {
    Path run = dir.resolve(name);
    List<String> all = new ArrayList<>(List.of("spark.skippipe.plan.skipRatio", "auto",
        "spark.skippipe.run.dir", run.toString()));
    all.addAll(List.of(kv));
    JobConfig cfg = JobPlanningTest.cfg(all.toArray(String[]::new));
    JobPlanning.PlannedRun r = JobPlanning.plan(cfg, null, JobPlanningTest.READ, quick(cfg));
    Files.createDirectories(run);
    SkipPipeJob.record(cfg, r, new Configuration());
    String tuneText = Files.readString(run.resolve("tune.json"), StandardCharsets.UTF_8);
    assertEquals(r.tuneJson(), tuneText, name);
    Plan recorded = PlanCodec.read(run.resolve("plan.json"));
    assertEquals(r.json(), PlanCodec.toJsonString(recorded), name);
    var v = ScheduleValidator.check(recorded, Simulator.run(recorded).spans());
    assertTrue(v.ok(), name + ": " + v.violations());
    JsonNode t = new ObjectMapper().readTree(tuneText);
    JsonNode choice = t.get("choice");
    assertEquals(choice.get("pathLength").asInt(), recorded.constraints().pathLength(), name);
    assertEquals(choice.get("maxSwaps").asInt(), recorded.constraints().maxSwaps(), name);
    assertEquals(choice.get("memory").asInt(), recorded.constraints().memory(), name);
    // the run follows the plan's model (StageTask), so the choice's checkpointing is the run's
    assertEquals(choice.get("activationCheckpointing").asBoolean(),
        recorded.model().activationCheckpointing(), name);
    assertEquals(choice.get("predictedIterationSeconds").asDouble(),
        recorded.iterationSeconds(), 1e-9, name);
    for (JsonNode f : t.get("frontier")) {
      assertTrue(f.get("activationCheckpointing").isBoolean(), f.toString());
    }
    return t;
  }

  @Test
  void autoOnEveryShippedPresetProducesAValidRecordedPlan() throws Exception {
    assertEquals(Presets.names("clusters").stream().sorted().toList(),
        List.copyOf(PRESETS.keySet()), "a shipped cluster preset without a model here");
    for (var e : PRESETS.entrySet()) {
      JsonNode t = autoAndRecord(e.getKey(), "spark.skippipe.cluster", e.getKey(),
          "spark.skippipe.model", e.getValue());
      assertTrue(t.get("choice").get("skipRatio").asDouble() <= 1.0 / 3 + 1e-9, e.getKey());
    }
  }

  /**
   * A memory-bound cluster (4 stages of 2 nodes holding 2 microbatches, 200 ms links, cheap
   * compute): unset, the tuner searches checkpointing and chooses it, and plan.json says so;
   * set to false, it searches only without; set to true, only with.
   */
  @Test
  void checkpointingIsChosenUnlessTheUserSetIt() throws Exception {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      nodes.add(new Node(i, "L" + i, 1.0, 2));
    }
    ClusterProfile c = new ClusterProfile("mem-bound", "", nodes, List.of(2, 2, 2, 2),
        Map.of(), new Link(200, 1.0), 0.01, 0.005, false);
    ModelSpec m = new ModelSpec("ckpt-4", "", 32, 4, 2, 1, 64, 1024, 16, 1, 2, 8, 4);
    Path cf = dir.resolve("cluster.json");
    Path mf = dir.resolve("model.json");
    Files.writeString(cf, ProfileJson.toJson(c).toString());
    Files.writeString(mf, ProfileJson.toJson(m).toString());
    String[] base = {"spark.skippipe.cluster", cf.toString(), "spark.skippipe.model",
        mf.toString()};
    JsonNode unset = autoAndRecord("unset", base);
    assertTrue(unset.get("choice").get("activationCheckpointing").asBoolean(), unset.toString());
    for (boolean given : new boolean[] {false, true}) {
      List<String> kv = new ArrayList<>(List.of(base));
      kv.addAll(List.of("spark.skippipe.train.activationCheckpointing", "" + given));
      JsonNode t = autoAndRecord("given-" + given, kv.toArray(String[]::new));
      for (JsonNode f : t.get("frontier")) {
        assertEquals(given, f.get("activationCheckpointing").asBoolean(), f.toString());
      }
    }
  }

  /**
   * A given plan.json and the setting: a plan made with checkpointing keeps it, and an explicit
   * {@code false} is refused naming the key; a plan made without gets it when the setting is true,
   * and its prediction is re-simulated with the longer backwards.
   */
  @Test
  void aGivenPlanFollowsOrRefusesTheSetting() throws Exception {
    JobConfig plain = JobPlanningTest.cfg();
    PlannerConfig q = quick(plain);
    ClusterProfile c = Presets.cluster("laptop-geo-12");
    ModelSpec tiny = Presets.model("llama-tiny");
    Path on = dir.resolve("on.json");
    Path off = dir.resolve("off.json");
    Plan planOn = io.skippipe.scheduler.plan.Planner.plan(c,
        tiny.withActivationCheckpointing(true), q);
    Plan planOff = io.skippipe.scheduler.plan.Planner.plan(c, tiny, q);
    Files.writeString(on, PlanCodec.toJsonString(planOn));
    Files.writeString(off, PlanCodec.toJsonString(planOff));
    String key = "spark.skippipe.train.activationCheckpointing";
    assertTrue(JobPlanning.plan(JobPlanningTest.cfg("spark.skippipe.plan.file", on.toString()),
        JobPlanningTest.READ).plan().model().activationCheckpointing());
    var e = org.junit.jupiter.api.Assertions.assertThrows(
        io.skippipe.job.config.ConfigException.class, () -> JobPlanning.plan(JobPlanningTest.cfg(
            "spark.skippipe.plan.file", on.toString(), key, "false"), JobPlanningTest.READ));
    assertEquals(key, e.key());
    JobPlanning.PlannedRun up = JobPlanning.plan(JobPlanningTest.cfg(
        "spark.skippipe.plan.file", off.toString(), key, "true"), JobPlanningTest.READ);
    assertTrue(up.plan().model().activationCheckpointing());
    assertEquals(planOff.stages(), up.plan().stages());
    assertTrue(up.plan().pipelineSeconds() > planOff.pipelineSeconds(),
        up.plan().pipelineSeconds() + " vs " + planOff.pipelineSeconds());
    JobPlanning.PlannedRun same = JobPlanning.plan(JobPlanningTest.cfg(
        "spark.skippipe.plan.file", off.toString()), JobPlanningTest.READ);
    assertEquals(PlanCodec.toJsonString(planOff), same.json());
  }
}
