package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The driver's per-chunk deadline: a node that stops reading and computing while the block
 * transfer's own timeouts are far away (10 minutes) is cut off by {@code elastic.chunkTimeoutMs};
 * the attempt is cancelled, the retry resumes from the nodes' memory and ends at the same weights
 * as the single-process reference.
 */
class ChunkDeadlineTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);

  static final long DEADLINE_MS = 20_000;

  @Test
  void aStalledNodeIsCutOffAtTheChunkDeadlineAndTheRetryFinishes() throws Exception {
    Plan plan = TestPlans.skippipe();
    String dir = "target/chunk-deadline/" + System.nanoTime();
    Map<String, String> m = new HashMap<>(Map.of(
        "spark.skippipe.run.dir", dir,
        "spark.skippipe.seed", "17",
        "spark.skippipe.network.mode", "direct",
        "spark.skippipe.train.iterations", "4",
        "spark.skippipe.train.chunkIterations", "2",
        "spark.skippipe.train.learningRate", "0.01",
        "spark.skippipe.transfer.readTimeoutMs", "600000",
        "spark.skippipe.transfer.writeTimeoutMs", "600000",
        "spark.skippipe.elastic.chunkTimeoutMs", "" + DEADLINE_MS));
    m.put("spark.skippipe.test.failAt", "1:3:2:stall"); // chunk 1 = iterations 2..3
    JobConfig cfg = JobConfig.parse(m);
    Configuration conf = HadoopConfs.current();
    Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, dir, conf, 3);
    ChunkedTraining.Outcome out = SparkTrainingHarness.train(spark.jsc(), plan, cfg, "deadline",
        shards, Map.of());
    assertEquals(4, out.lastStep());
    ChunkedTraining.AttemptRecord cut = out.attempts().stream()
        .filter(a -> a.failure() != null).findFirst().orElseThrow();
    assertEquals(1, cut.chunk());
    assertTrue(cut.failure().contains("deadline of " + DEADLINE_MS + " ms"), cut.failure());
    assertTrue(cut.seconds() >= DEADLINE_MS / 1e3 && cut.seconds() < DEADLINE_MS / 1e3 + 30,
        "cut off after " + cut.seconds() + " s");
    ChunkedTraining.AttemptRecord retry = out.attempts().get(out.attempts().size() - 1);
    assertEquals(3, retry.resumedAt(), "iteration 2 was done by every node: resumed from memory");
    CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(), conf);
    double worst = SparkTrainingHarness.worstDifference(plan, store, 4,
        SparkTrainingHarness.reference(plan, cfg, shards, conf, 4));
    assertTrue(worst <= SparkTrainingHarness.REFERENCE_TOLERANCE, "weights differ by " + worst);
  }
}
