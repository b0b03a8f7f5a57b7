package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.InProcessTraining;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import java.io.File;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Bitwise reproducibility of training (issue 10): the same plan, seed and data give byte-identical
 * checkpoint files (weights and AdamW state) whatever the message timing — a run with no link
 * delays, a run whose every link gets its own random latency (so activations, gradients and
 * all-reduce segments arrive in other orders), and the same training in one JVM without Spark.
 */
class DeterminismTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);

  static final int ITERATIONS = 3;

  @Test
  void checkpointsAreByteIdenticalWhateverTheArrivalOrder() throws Exception {
    Plan plan = TestPlans.busy();
    Configuration conf = HadoopConfs.current();
    String base = new File("target/determinism/" + System.nanoTime()).getAbsolutePath();
    Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, base, conf, 3);

    Map<String, byte[]> direct = sparkRun(plan, base + "/direct", "direct", shards);
    Map<String, byte[]> jittered = sparkRun(jittered(plan, 7), base + "/jittered", "emulated",
        shards);
    SparkTrainingHarness.assertSameBytes(direct, jittered, "direct vs. random link latencies");

    CheckpointStore inProcess = new HadoopCheckpointStore(base + "/in-process", conf);
    InProcessTraining.train(plan, config(base + "/in-process", "direct"), shards, ITERATIONS,
        inProcess);
    SparkTrainingHarness.assertSameBytes(direct, SparkTrainingHarness.stageFiles(inProcess,
        plan.stages().size(), ITERATIONS), "Spark local[6] vs. threads in one JVM");
  }

  private Map<String, byte[]> sparkRun(Plan plan, String dir, String network,
      Map<Integer, String> shards) throws Exception {
    JobConfig cfg = config(dir, network);
    ChunkedTraining.Outcome out = SparkTrainingHarness.train(spark.jsc(), plan, cfg,
        "det-" + network, shards, Map.of());
    assertEquals(ITERATIONS, out.lastStep());
    CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(), HadoopConfs.current());
    return SparkTrainingHarness.stageFiles(store, plan.stages().size(), ITERATIONS);
  }

  static JobConfig config(String dir, String network) {
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", dir);
    m.put("spark.skippipe.seed", "17");
    m.put("spark.skippipe.network.mode", network);
    m.put("spark.skippipe.network.timeScale", "1");
    m.put("spark.skippipe.train.iterations", "" + ITERATIONS);
    m.put("spark.skippipe.train.chunkIterations", "2");
    m.put("spark.skippipe.train.learningRate", "0.01");
    m.put("spark.skippipe.transfer.readTimeoutMs", "60000");
    return JobConfig.parse(m);
  }

  /** The plan with every location pair on its own random link (0-40 ms, seeded). */
  static Plan jittered(Plan plan, long seed) {
    ClusterProfile c = plan.cluster();
    SplittableRandom r = new SplittableRandom(seed);
    Map<String, Link> links = new HashMap<>();
    for (var a : c.nodes()) {
      for (var b : c.nodes()) {
        if (!a.location().equals(b.location())) {
          links.putIfAbsent(ClusterProfile.pairKey(a.location(), b.location()),
              new Link(r.nextDouble(0, 40), 0.01));
        }
      }
    }
    ClusterProfile j = new ClusterProfile(c.name() + "-jittered", c.description(), c.nodes(),
        c.stageSizes(), links, new Link(r.nextDouble(0, 40), 0.01), c.hopOverheadSeconds(),
        c.computeSecondsPerSampleLayer(), true);
    return new Plan(plan.format(), plan.method(), plan.seed(), j, plan.model(),
        plan.constraints(), plan.stages(), plan.microbatches(), null);
  }
}
