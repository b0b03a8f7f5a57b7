package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.InProcessTraining;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.model.stage.Precision;
import io.skippipe.model.stage.StageOptions;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.profile.ModelSpec;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * Issue 9 item 2, counted on the way out: the activation and activation-gradient bytes the nodes
 * hand to the block transfer ({@link ActivationTraffic}, what {@code bench scale} reports) are
 * exactly one B·T·D tensor per hop of every path, both ways — 4 bytes per element in fp32, 2 in
 * bf16.
 */
class ActivationTrafficTest {
  @Test
  void bf16HalvesTheCountedActivationBytes() throws Exception {
    Plan plan = TestPlans.skippipe();
    String base = "target/activation-traffic/" + System.nanoTime();
    Configuration conf = HadoopConfs.current();
    Map<Integer, String> shards = SparkTrainingHarness.writeShards(plan, base, conf, 3);
    JobConfig cfg = JobConfig.parse(Map.of("spark.skippipe.run.dir", base));
    ModelSpec m = plan.model();
    long hops = 0; // path [0, a, b]: 0→a→b→0 forward and 0→b→a→0 backward, per microbatch
    for (PlannedMicrobatch mb : plan.microbatches()) {
      hops += 2L * mb.path().size();
    }
    long elements = (long) m.samplesPerMicrobatch() * m.seqLen() * m.dim();
    for (Precision p : Precision.values()) {
      long before = ActivationTraffic.total();
      InProcessTraining.train(plan, cfg, shards, 1, new HadoopCheckpointStore(base + "/" + p,
          conf), StageOptions.defaults().withPrecision(p));
      assertEquals(hops * elements * p.bytesPerElement(), ActivationTraffic.total() - before,
          p + ": bytes of one iteration");
    }
  }
}
