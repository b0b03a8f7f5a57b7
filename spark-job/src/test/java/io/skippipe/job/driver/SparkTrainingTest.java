package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.job.task.chunk.NodeIterationStats;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The runtime in Spark local[6] barrier mode against the single-process PathTrainer: equal weights
 * after training (within SparkTrainingHarness.REFERENCE_TOLERANCE) for SkipPipe paths (skips + swaps) and DT-FM, weights cached between
 * chunks, and a chunk made to fail mid-way re-run from the last commit to the same weights.
 */
class SparkTrainingTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);

  static JobConfig config(String dir, int iterations, int chunk, String failAt) {
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", dir);
    m.put("spark.skippipe.seed", "17");
    m.put("spark.skippipe.network.mode", "direct");
    m.put("spark.skippipe.train.iterations", "" + iterations);
    m.put("spark.skippipe.train.chunkIterations", "" + chunk);
    m.put("spark.skippipe.train.learningRate", "0.01");
    // warmup + cosine (the reference PathTrainer uses the same schedule): a runtime that ignored
    // it, or indexed it by the chunk's iteration instead of the global step, would differ
    m.put("spark.skippipe.train.warmupIterations", iterations > 2 ? "1" : "0");
    m.put("spark.skippipe.train.minLearningRate", "0.002");
    m.put("spark.skippipe.transfer.readTimeoutMs", "30000");
    m.put("spark.skippipe.test.failAt", failAt);
    return JobConfig.parse(m);
  }

  void check(Plan plan, String name, int iterations, int chunk, String failAt, int expectFailures)
      throws Exception {
    String dir = "target/spark-training/" + name + "-" + System.nanoTime();
    JobConfig cfg = config(dir, iterations, chunk, failAt);
    Configuration conf = HadoopConfs.current();
    Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, dir, conf, 3);
    ChunkedTraining.Outcome out = SparkTrainingHarness.train(spark.jsc(), plan, cfg, name,
        shards, Map.of());
    assertEquals(iterations, out.lastStep());
    assertEquals(expectFailures, out.failedAttempts());
    CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(), conf);
    assertEquals(iterations, store.latest(null).orElseThrow().step());
    double worst = SparkTrainingHarness.worstDifference(plan, store, iterations,
        SparkTrainingHarness.reference(plan, cfg, shards, conf, iterations));
    assertTrue(worst <= SparkTrainingHarness.REFERENCE_TOLERANCE, name
        + ": weights differ from the PathTrainer's by " + worst);
    // every node stepped with the schedule's rate, and the metrics line carries it
    RunMetrics metrics = new RunMetrics(iterations, chunk, 1, System.out, false, List.of(), null);
    for (ChunkResult r : out.results()) {
      for (NodeIterationStats s : r.iterations()) {
        assertEquals(cfg.train().lrSchedule().lr(s.iteration()), s.lr(), 1e-15,
            "lr of node " + s.node() + " at iteration " + s.iteration());
      }
    }
    metrics.afterChunk(out.results());
    for (String line : metrics.iterationLines()) {
      JsonNode j = new ObjectMapper().readTree(line);
      assertEquals(cfg.train().lrSchedule().lr(j.get("iteration").asInt()), j.get("lr").asDouble(),
          1e-15, line);
    }
    if (iterations > 1) {
      assertTrue(cfg.train().lrSchedule().lr(iterations - 1) < 0.01, "the schedule decays");
    }
    if (iterations / chunk > 1 && expectFailures == 0) {
      assertTrue(out.chunksReusingCache().contains(1),
          "chunk 1 should reuse the executor-cached weights: " + out.chunksReusingCache());
    }
  }

  @Test
  void skippipePathsEqualThePathTrainerAcrossTwoChunks() throws Exception {
    check(TestPlans.skippipe(), "skippipe", 2, 1, "", 0);
  }

  @Test
  void dtfmEqualsThePathTrainer() throws Exception {
    check(TestPlans.dtfm(), "dtfm", 1, 1, "", 0);
  }

  @Test
  void aChunkThatFailsMidwayIsRerunFromTheLastCommitToTheSameWeights() throws Exception {
    // chunk 1 = iterations 2..3; node 2 throws at iteration 3 on the first attempt
    check(TestPlans.skippipe(), "resume", 4, 2, "1:3:2", 1);
  }
}
