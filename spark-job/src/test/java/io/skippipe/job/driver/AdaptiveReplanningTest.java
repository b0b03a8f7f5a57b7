package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.LogCapture;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.profile.ProfileJson;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Adaptive re-planning on measurements: the run plans on a profile where every node has speed 1,
 * but the network it runs on (emulated, compute padded) has one replica of a two-replica stage
 * five times slower. After chunk 0 the measured iteration exceeds the prediction, the profile is
 * fitted, that node is named as the straggler, and the next chunk runs a new plan that the simulator predicts faster on the fitted
 * profile; every plan is kept in {@code plans/}. With {@code replanFactor=0} nothing changes.
 */
class AdaptiveReplanningTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);

  static ClusterProfile profile(int slow, double speed) {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      nodes.add(new Node(i, "site" + (i % 3), i == slow ? speed : 1.0, 2));
    }
    return new ClusterProfile("adaptive-6", "test", nodes, List.of(2, 1, 2, 1), Map.of(),
        new Link(10, 0.05), 0.005, 0.02, false);
  }

  @Test
  void aStragglerIsNamedAndTheNextChunkRunsAPlanAroundIt() throws Exception {
    String base = new File("target/adaptive/" + System.nanoTime()).getAbsolutePath();
    Files.createDirectories(Path.of(base));
    Files.writeString(Path.of(base, "cluster.json"), ProfileJson.toJson(profile(-1, 1))
        .toPrettyString());
    Files.writeString(Path.of(base, "model.json"),
        ProfileJson.toJson(TestPlans.MODEL).toPrettyString());
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", base + "/run");
    m.put("spark.skippipe.cluster", base + "/cluster.json");
    m.put("spark.skippipe.model", base + "/model.json");
    m.put("spark.skippipe.seed", "17");
    m.put("spark.skippipe.network.mode", "emulated");
    m.put("spark.skippipe.network.padCompute", "true");
    m.put("spark.skippipe.network.timeScale", "1");
    m.put("spark.skippipe.train.iterations", "6");
    m.put("spark.skippipe.train.chunkIterations", "3");
    m.put("spark.skippipe.elastic.replanFactor", "1.5");
    JobConfig cfg = JobConfig.parse(m);
    Plan plan = JobPlanning.plan(cfg, uri -> {
      try {
        return Files.readAllBytes(Path.of(uri));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).plan();
    int stage = 1;
    while (plan.stages().get(stage).size() < 2) {
      stage++;
    }
    int slow = plan.stages().get(stage).get(0); // a replica: paths can go around it
    assertTrue(plan.microbatches().stream().anyMatch(mb -> mb.path().contains(slow)),
        "node " + slow + " carries work in the first plan");
    Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, base, HadoopConfs
        .current(), 3);
    ChunkedTraining.Outcome out;
    try (LogCapture log = new LogCapture(ChunkedTraining.class)) {
      out = SparkTrainingHarness.train(spark.jsc(), plan, cfg, "adaptive", shards, Map.of(),
          r -> { }, ProfileJson.toJson(profile(slow, 0.2)).toString());
      assertTrue(log.saw("straggler: node " + slow + " "), log.warnings().toString());
      assertTrue(log.saw("node " + slow + " (site" + slow % 3 + "): speed 1.000 -> 0."),
          log.warnings().toString());
      assertTrue(log.saw("gain"), log.warnings().toString());
    }
    assertEquals(6, out.lastStep());
    String first = out.attempts().get(0).planHash();
    assertNotEquals(first, out.planHash(), "chunk 1 ran a new plan");
    Plan next = PlanCodec.read(Path.of(base, "run", PlanHistory.planFile(out.planHash())));
    assertTrue(next.cluster().nodes().get(slow).speed() < 0.5, "the plan knows it is slow");
    long before = plan.microbatches().stream().filter(mb -> mb.path().contains(slow)).count();
    long after = next.microbatches().stream().filter(mb -> mb.path().contains(slow)).count();
    assertTrue(after < before, "fewer microbatches through node " + slow + ": " + before + " -> "
        + after);
    assertTrue(new File(base + "/run/" + PlanHistory.planFile(first)).isFile());
  }
}
