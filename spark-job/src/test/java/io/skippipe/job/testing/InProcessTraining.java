package io.skippipe.job.testing;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.ComputeThreads;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.job.task.chunk.ScheduleFollower;
import io.skippipe.job.task.chunk.ShardSource;
import io.skippipe.job.transfer.InMemoryBlockTransport;
import io.skippipe.job.transfer.Mailbox;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;

/**
 * The same training as a Spark run, without Spark: one thread per plan node in this JVM, the
 * in-memory block transport, each thread at one intra-op thread (what a task with
 * {@code spark.task.cpus=1} gets). Replica 0 of each stage writes its checkpoint files at the last
 * step, so a Spark run's checkpoint can be compared with it byte for byte.
 */
public final class InProcessTraining {
  private InProcessTraining() {}

  /** Trains {@code iterations} from the initial weights and writes step {@code iterations}. */
  public static void train(Plan plan, JobConfig cfg, Map<Integer, String> shards, int iterations,
      CheckpointStore out) throws Exception {
    train(plan, cfg, shards, iterations, out, StageOptions.defaults());
  }

  /** As {@link #train(Plan, JobConfig, Map, int, CheckpointStore)} with stages run as {@code options}. */
  public static void train(Plan plan, JobConfig cfg, Map<Integer, String> shards, int iterations,
      CheckpointStore out, StageOptions options) throws Exception {
    LlamaConfig llama = Models.llama(plan.model());
    Configuration conf = HadoopConfs.current();
    int n = plan.nodeCount();
    InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(1, 64);
    List<io.skippipe.job.transfer.BlockTransport> endpoints = new ArrayList<>();
    for (int node = 0; node < n; node++) {
      endpoints.add(net.endpoint(node)); // all before any node sends
    }
    int threads = SparkTrainingHarness.taskThreads(cfg); // as the Spark run it is compared with
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<?>> nodes = new ArrayList<>();
      for (int node = 0; node < n; node++) {
        int me = node;
        nodes.add(pool.submit(() -> {
          ComputeThreads.apply(threads);
          int stage = plan.stageOf(me);
          var endpoint = endpoints.get(me);
          try (StageModel model = StageModel.create(llama, stage, cfg.seed(), options);
              AdamW opt = new AdamW(model, new AdamWConfig(cfg.train().beta1(),
                  cfg.train().beta2(), cfg.train().epsilon(), cfg.train().weightDecay()))) {
            ScheduleFollower f = new ScheduleFollower(plan, me, model, opt, new Mailbox(endpoint),
                new ScheduleFollower.Settings(cfg.train().gradClipNorm(), 60_000, false, 1.0),
                s -> { }, 0);
            ScheduleFollower.MicrobatchSource data = source(plan, me, shards, conf, cfg.seed());
            try {
              for (int it = 0; it < iterations; it++) {
                f.runIteration(it, cfg.train().lrSchedule().lr(it), data);
              }
            } catch (Exception e) {
              endpoint.abort(e.toString());
              throw e;
            }
            if (plan.stages().get(stage).indexOf(me) == 0) {
              StageState.save(out, iterations, stage, 0, model, opt);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : nodes) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static ScheduleFollower.MicrobatchSource source(Plan plan, int node,
      Map<Integer, String> shards, Configuration conf, long seed) throws Exception {
    if (!plan.dataNodes().contains(node)) {
      return (it, mb) -> {
        throw new IllegalStateException("node " + node + " is no data node");
      };
    }
    return ShardSource.open(shards.get(node), conf, plan.model().seqLen(),
        plan.microbatchesOf(node).stream().map(PlannedMicrobatch::id).toList(),
        plan.model().samplesPerMicrobatch(), seed, node);
  }
}
