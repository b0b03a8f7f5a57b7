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
import java.io.File;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Equivalence with separate executor JVMs: local-cluster[3,2,1024] (3 executors × 2 slots = the 6
 * nodes), blocks cross process boundaries over TCP. The checkpoint is byte-identical to the same
 * training on threads in this JVM ({@link InProcessTraining}), and its weights equal the
 * single-process PathTrainer's within {@link SparkTrainingHarness#REFERENCE_TOLERANCE}.
 */
class LocalClusterTrainingTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.localCluster(3, 2);

  @Test
  void skippipeAndDtfmEqualThePathTrainerAcrossExecutorJvms() throws Exception {
    for (Plan plan : new Plan[] {TestPlans.skippipe(), TestPlans.dtfm()}) {
      String dir = new File("target/local-cluster/" + plan.method() + "-" + System.nanoTime())
          .getAbsolutePath();
      JobConfig cfg = SparkTrainingTest.config(dir, 1, 1, "");
      Configuration conf = HadoopConfs.current();
      Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, dir, conf, 3);
      ChunkedTraining.Outcome out = SparkTrainingHarness.train(spark.jsc(), plan, cfg,
          "lc-" + plan.method(), shards, Map.of());
      assertEquals(1, out.lastStep());
      CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(), conf);
      double worst = SparkTrainingHarness.worstDifference(plan, store, 1,
          SparkTrainingHarness.reference(plan, cfg, shards, conf, 1));
      assertTrue(worst <= SparkTrainingHarness.REFERENCE_TOLERANCE, plan.method()
          + ": weights differ from the PathTrainer's by " + worst);
      CheckpointStore threads = new HadoopCheckpointStore(dir + "/in-process", conf);
      InProcessTraining.train(plan, cfg, shards, 1, threads);
      SparkTrainingHarness.assertSameBytes(
          SparkTrainingHarness.stageFiles(threads, plan.stages().size(), 1),
          SparkTrainingHarness.stageFiles(store, plan.stages().size(), 1),
          plan.method() + ": executor JVMs vs. threads in the test JVM");
    }
    // the tasks really ran in other JVMs
    assertEquals(4, spark.session().sparkContext().statusTracker().getExecutorInfos().length);
  }
}
