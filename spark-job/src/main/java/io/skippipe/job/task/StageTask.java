package io.skippipe.job.task;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.EmulatedLink;
import io.skippipe.job.transfer.LinkModel;
import io.skippipe.job.transfer.Mailbox;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.BarrierTaskContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The body of one barrier task of a training chunk: find this task's node by its executor slot,
 * get the stage (cached in the JVM, or loaded from the last commit, or freshly initialised), follow
 * the schedule for the chunk's iterations, checkpoint, report.
 *
 * <p>Symmetric and clean (STYLE.md habit 12): every task does the same steps; {@code finally}
 * closes the session and releases the slot, and failures there are added as suppressed, never
 * thrown over the primary error. On failure the task first tells its peers (ABORT), so they fail
 * at once naming it instead of waiting for a timeout; its cached stage is dropped.
 */
public final class StageTask {
  private static final Logger LOG = LoggerFactory.getLogger(StageTask.class);

  private StageTask() {}

  /** Runs this task's node for the chunk; called inside {@code rdd.barrier().mapPartitions}. */
  public static List<ChunkResult> run(ChunkSpec spec) throws Exception {
    BarrierTaskContext.get(); // fails outside a barrier stage
    String executor = org.apache.spark.SparkEnv.get().executorId();
    ExecutorSlots.Slot slot = ExecutorSlots.acquire(spec.run());
    Integer nodeBox = spec.roles().get(executor + "/" + slot.index());
    if (nodeBox == null) {
      ExecutorSlots.release(slot);
      throw new IllegalStateException("slot " + executor + "/" + slot.index()
          + " has no role in chunk " + spec.chunk() + " (roles " + spec.roles() + ")");
    }
    return List.of(runNode(spec, slot, nodeBox));
  }

  /** Runs one node of a chunk on a slot (also used by tests without Spark). */
  public static ChunkResult runNode(ChunkSpec spec, ExecutorSlots.Slot slot, int node)
      throws Exception {
    Plan plan = PlanCodec.read(new ByteArrayInputStream(
        spec.planJson().getBytes(StandardCharsets.UTF_8)));
    JobConfig cfg = spec.config();
    int stageIndex = plan.stageOf(node);
    int replica = plan.stages().get(stageIndex).indexOf(node);
    Configuration hadoop = HadoopConfs.current(spec.hadoop());
    CheckpointStore store = new HadoopCheckpointStore(spec.checkpointRoot(), hadoop);
    BlockTransport transport = null;
    Throwable primary = null;
    boolean reused = false;
    try {
      ComputeThreads.apply(ComputeThreads.resolve(cfg.train().intraOpThreads(),
          org.apache.spark.TaskContext.get()), cfg.train().interOpThreads());
      reused = prepareStage(spec, slot, plan, node, stageIndex, replica, store, hadoop);
      ExecutorSlots.CachedStage st = slot.cached;
      Map<Integer, InetSocketAddress> peers = new HashMap<>();
      Map<Integer, String> pins = new HashMap<>();
      spec.peers().forEach((n, a) -> peers.put(n, new InetSocketAddress(a.host(), a.port())));
      spec.peers().forEach((n, a) -> pins.put(n, a.certSha256()));
      transport = slot.server().openSession(spec.sessionTag(), node, peers, pins);
      if (cfg.network().emulated()) {
        transport = new EmulatedLink(transport, links(plan.cluster()), cfg.network().timeScale());
      }
      Mailbox box = new Mailbox(transport, cfg.transfer().maxBufferedBytes());
      List<String> spanLines = new ArrayList<>();
      long epoch = spec.epochMicros();
      ScheduleFollower follower = new ScheduleFollower(plan, node, st.model(), st.optimizer(), box,
          new ScheduleFollower.Settings(cfg.train().gradClipNorm(),
              cfg.transfer().readTimeoutMillis(), cfg.network().padCompute(),
              cfg.network().timeScale()),
          s -> spanLines.add(SpanJson.toLine(s)), epoch);
      ScheduleFollower.MicrobatchSource data = dataSource(spec, plan, node, hadoop);
      LrSchedule lr = cfg.train().lrSchedule();
      List<NodeIterationStats> stats = new ArrayList<>();
      for (int i = 0; i < spec.iterations(); i++) {
        int iteration = spec.firstIteration() + i;
        JobConfig.FailureHook hook = cfg.failAt();
        if (hook != null && hook.chunk() == spec.chunk() && hook.iteration() == iteration
            && hook.node() == node && spec.attempt() == 0) {
          throw new IllegalStateException("test hook spark.skippipe.test.failAt=" + hook.chunk()
              + ":" + iteration + ":" + node + " failed node " + node + " on purpose");
        }
        stats.add(follower.runIteration(iteration, lr.lr(iteration), data));
        long step = iteration + 1L;
        int every = cfg.checkpoint().everyIterations();
        // the replicas of a stage hold bit-identical weights and optimizer state (same summed
        // gradient, same element-wise AdamW step), so the first replica writes the stage's files
        if (replica == 0 && (i == spec.iterations() - 1 || (every > 0 && step % every == 0))) {
          long t0 = ScheduleFollower.nowMicros();
          StageState.save(store, step, stageIndex, replica, st.model(), st.optimizer());
          spanLines.add(SpanJson.toLine(new Span(node, stageIndex, -1, Span.Kind.CKPT,
              t0 - epoch, ScheduleFollower.nowMicros() - epoch)));
        }
      }
      slot.cached = new ExecutorSlots.CachedStage(node, stageIndex, spec.planHash(),
          spec.firstIteration() + (long) spec.iterations(), st.model(), st.optimizer());
      if (transport instanceof EmulatedLink e) {
        e.drain(cfg.transfer().readTimeoutMillis());
      }
      return new ChunkResult(node, stats, spanLines, reused);
    } catch (Throwable t) {
      primary = t;
      if (transport != null) {
        transport.abort("node " + node + " failed: " + t);
      }
      dropCache(slot, t);
      throw t;
    } finally {
      if (transport != null) {
        try {
          transport.close();
        } catch (RuntimeException e) {
          if (primary != null) {
            primary.addSuppressed(e);
          } else {
            LOG.warn("closing the block session of node {}: {}", node, e.toString());
          }
        }
      }
      ExecutorSlots.release(slot);
    }
  }

  /**
   * Makes {@code slot.cached} hold this node's stage at the chunk's start step; returns whether the
   * JVM-cached stage was reused.
   */
  private static boolean prepareStage(ChunkSpec spec, ExecutorSlots.Slot slot, Plan plan, int node,
      int stageIndex, int replica, CheckpointStore store, Configuration hadoop)
      throws IOException {
    ExecutorSlots.CachedStage c = slot.cached;
    long startStep = spec.firstIteration();
    if (c != null && c.node() == node && c.stage() == stageIndex
        && c.planHash().equals(spec.planHash()) && c.step() == startStep
        && spec.resumeStep() == startStep) {
      return true;
    }
    if (c != null) {
      c.close();
      slot.cached = null;
    }
    JobConfig cfg = spec.config();
    LlamaConfig llama = ModelInit.llama(cfg, plan.model(), hadoop);
    ai.djl.Device device = DevicePlacement.resolve(cfg.compute().device(),
        org.apache.spark.TaskContext.get());
    DevicePlacement.check(device);
    StageModel model = StageModel.create(llama, stageIndex, cfg.seed(), StageOptions.defaults()
        .withDevice(device).withPrecision(cfg.compute().stagePrecision())
        .withActivationCheckpointing(plan.model().activationCheckpointing()));
    AdamW opt = new AdamW(model, cfg.train().adamW());
    try {
      if (spec.resumeStep() >= 0) {
        StageState.load(store, spec.resumeStep(), stageIndex, 0, model, opt);
      } else {
        ModelInit.loadWeights(cfg, model, hadoop); // spark.skippipe.model.init, if set
      }
    } catch (IOException | RuntimeException e) {
      opt.close();
      model.close();
      throw e;
    }
    slot.cached = new ExecutorSlots.CachedStage(node, stageIndex, spec.planHash(), startStep,
        model, opt);
    return false;
  }

  private static void dropCache(ExecutorSlots.Slot slot, Throwable cause) {
    ExecutorSlots.CachedStage c = slot.cached;
    slot.cached = null;
    if (c != null) {
      try {
        c.close();
      } catch (RuntimeException e) {
        cause.addSuppressed(e);
      }
    }
  }

  private static ScheduleFollower.MicrobatchSource dataSource(ChunkSpec spec, Plan plan, int node,
      Configuration hadoop) throws IOException {
    if (!plan.dataNodes().contains(node)) {
      return (it, mb) -> {
        throw new IllegalStateException("node " + node + " is no data node");
      };
    }
    String shard = spec.shards().get(node);
    if (shard == null) {
      throw new IllegalStateException("no data shard for data node " + node);
    }
    List<Integer> own = new ArrayList<>();
    for (PlannedMicrobatch m : plan.microbatchesOf(node)) {
      own.add(m.id());
    }
    return ShardSource.open(shard, hadoop, plan.model().seqLen(), own,
        plan.model().samplesPerMicrobatch(), spec.config().seed(), node);
  }

  /** The profile's links as the emulation layer sees them (node ids → location pair). */
  public static LinkModel links(ClusterProfile profile) {
    List<Node> nodes = profile.nodes();
    return new LinkModel() {
      @Override
      public double latencySeconds(int from, int to) {
        // + hopOverhead, as CostModel's hop (latency + bytes/bandwidth + hopOverhead): with
        // padCompute and timeScale >> 1 the real serialization it stands for is negligible, so
        // leaving it out made every emulated hop shorter than the simulated one
        return link(from, to).latencyMs() / 1e3 + profile.hopOverheadSeconds();
      }

      @Override
      public boolean contention() {
        return profile.linkContention();
      }

      @Override
      public double bytesPerSecond(int from, int to) {
        return link(from, to).bandwidthGBps() * Link.GIB;
      }

      private Link link(int from, int to) {
        return profile.link(nodes.get(from).location(), nodes.get(to).location());
      }
    };
  }
}
