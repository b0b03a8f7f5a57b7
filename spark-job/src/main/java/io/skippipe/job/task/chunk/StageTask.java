package io.skippipe.job.task.chunk;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.peer.Rendezvous;
import io.skippipe.job.task.peer.SlotAddress;
import io.skippipe.job.task.role.ExecutorSlots;
import io.skippipe.job.task.role.Roles;
import io.skippipe.job.task.role.SlotStatus;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.EmulatedLink;
import io.skippipe.job.transfer.LinkModel;
import io.skippipe.job.transfer.Mailbox;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.profile.ProfileJson;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.BarrierTaskContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The body of one barrier task of a chunk attempt: take a slot of this executor, meet the other
 * tasks ({@link Rendezvous#gather}) and learn this slot's node and where training resumes ({@link
 * Roles}), hand over stage snapshots other nodes need, get the node's stage (kept in the executor's
 * memory, from a snapshot, rebuilt from neighbours, from the last commit or freshly initialised),
 * follow the schedule to the chunk's end, checkpoint, report.
 *
 * <p>Symmetric and clean (STYLE.md habit 12): every task makes the same Spark barrier calls (one
 * {@code allGather}, plus one {@code barrier} when snapshots are handed over — decided from the
 * gathered data, the same on every task); {@code finally} closes the session and releases the
 * slot, and failures there are added as suppressed, never thrown over the primary error. On
 * failure the task first tells its peers (ABORT), so they fail at once naming it instead of
 * waiting for a timeout; its stage stays cached for the next attempt unless the failure hit it
 * in the middle of an optimizer step.
 */
public final class StageTask {
  private static final Logger LOG = LoggerFactory.getLogger(StageTask.class);

  private StageTask() {}

  /** Runs this task's node for the chunk; called inside {@code rdd.barrier().mapPartitions}. */
  public static List<ChunkResult> run(ChunkSpec spec, ChunkJob.Accumulators acc) throws Exception {
    BarrierTaskContext ctx = BarrierTaskContext.get(); // fails outside a barrier stage
    ExecutorSlots.Slot slot = ExecutorSlots.acquire(spec.run(),
        Rendezvous.bound(spec.transfer()), spec.secret());
    try {
      SlotAddress me = Rendezvous.address(slot);
      ExecutorSlots.CachedStage c = slot.cached();
      SlotStatus status = c == null || c.dirty() ? SlotStatus.empty(me)
          : new SlotStatus(me, c.node(), c.stage(), c.step(), c.stageNorms());
      List<SlotStatus> gathered = Rendezvous.gather(ctx, status);
      Plan plan = spec.plan();
      Roles.Assignment a = Roles.assign(spec.rolesRequest(plan), gathered);
      Roles.Role role = a.roleOfSlot(me.key());
      if (role == null) {
        throw new IllegalStateException("slot " + me.key() + " got no node in chunk "
            + spec.chunk() + " attempt " + spec.attempt() + " (roles " + a.roles() + ")");
      }
      Configuration hadoop = HadoopConfs.current(spec.hadoop());
      CheckpointStore store = new HadoopCheckpointStore(spec.checkpointRoot(), hadoop);
      CheckpointStore snapshots = new HadoopCheckpointStore(spec.recoveryRoot(), hadoop);
      donate(a, role, slot, snapshots);
      if (a.needsBarrier()) {
        ctx.barrier(); // every snapshot is written before anyone reads one
      }
      return List.of(runNode(spec, plan, a, role, slot, me, store, snapshots, hadoop, acc));
    } finally {
      ExecutorSlots.release(slot);
    }
  }

  /** Writes the stage snapshots this node donates (Roles: REPLICA and NEIGHBOURS sources). */
  private static void donate(Roles.Assignment a, Roles.Role role, ExecutorSlots.Slot slot,
      CheckpointStore snapshots) throws IOException {
    for (Map.Entry<Integer, Integer> d : a.donors().entrySet()) {
      if (d.getValue() != role.node()) {
        continue;
      }
      ExecutorSlots.CachedStage c = slot.cached();
      if (c == null || c.stage() != d.getKey() || c.step() != a.resumeStep()) {
        throw new IllegalStateException("node " + role.node() + " should hand over stage "
            + d.getKey() + " at step " + a.resumeStep() + " but holds "
            + (c == null ? "nothing" : "stage " + c.stage() + " at step " + c.step()));
      }
      StageState.save(snapshots, a.resumeStep(), d.getKey(), 0, c.model(), c.optimizer());
    }
  }

  private static ChunkResult runNode(ChunkSpec spec, Plan plan, Roles.Assignment a,
      Roles.Role role, ExecutorSlots.Slot slot, SlotAddress me, CheckpointStore store,
      CheckpointStore snapshots, Configuration hadoop, ChunkJob.Accumulators acc)
      throws Exception {
    JobConfig cfg = spec.config();
    int node = role.node();
    int stageIndex = role.stage();
    int replica = plan.stages().get(stageIndex).indexOf(node);
    long resume = a.resumeStep();
    BlockTransport transport = null;
    ExecutorSlots.CachedStage st = null;
    Throwable primary = null;
    try {
      ComputeThreads.apply(ComputeThreads.resolve(cfg.train().intraOpThreads(),
          org.apache.spark.TaskContext.get()), cfg.train().interOpThreads());
      st = prepareStage(spec, plan, a, role, slot, store, snapshots, hadoop);
      st.keepCarried(spec.firstIteration(), resume);
      Map<Integer, InetSocketAddress> peers = new HashMap<>();
      Map<Integer, String> pins = new HashMap<>();
      a.peers().forEach((n, p) -> peers.put(n, new InetSocketAddress(p.host(), p.port())));
      a.peers().forEach((n, p) -> pins.put(n, p.certSha256()));
      transport = slot.server().openSession(spec.sessionTag(), node, peers, pins);
      ClusterProfile network = network(spec, plan);
      if (cfg.network().emulated()) {
        transport = new EmulatedLink(transport, links(network), cfg.network().timeScale());
      }
      Mailbox box = new Mailbox(transport, cfg.transfer().maxBufferedBytes());
      long epoch = spec.epochMicros();
      List<List<String>> current = new ArrayList<>(List.of(new ArrayList<>()));
      List<MessageTiming> timings = Collections.synchronizedList(new ArrayList<>());
      ExecutorSlots.CachedStage cache = st;
      ScheduleFollower follower = new ScheduleFollower(plan, node, st.model(), st.optimizer(), box,
          new ScheduleFollower.Settings(cfg.train().gradClipNorm(),
              cfg.transfer().readTimeoutMillis(), cfg.network().padCompute(),
              cfg.network().timeScale()),
          s -> current.get(0).add(SpanJson.toLine(s)), epoch,
          new ScheduleFollower.Hooks(CostModel.of(network, plan.model()), cache::beginUpdate,
              timings::add));
      ScheduleFollower.MicrobatchSource data = dataSource(spec, plan, node, hadoop);
      LrSchedule lr = cfg.train().lrSchedule();
      for (int iteration = (int) resume; iteration < spec.endIteration(); iteration++) {
        hook(spec, node, iteration);
        List<String> spanLines = new ArrayList<>();
        current.set(0, spanLines);
        NodeIterationStats stats = follower.runIteration(iteration, lr.lr(iteration), data);
        long step = iteration + 1L;
        st.completed(step, stats.stageNorms(),
            new ExecutorSlots.CachedStage.Carried(stats, spanLines, spec.planHash()));
        acc.progress().add(node + ":" + step);
        int every = cfg.checkpoint().everyIterations();
        // the replicas of a stage hold bit-identical weights and optimizer state (same summed
        // gradient, same element-wise AdamW step), so the first replica writes the stage's files
        if (replica == 0 && (step == spec.endIteration() || (every > 0 && step % every == 0))) {
          long t0 = ScheduleFollower.nowMicros();
          StageState.save(store, step, stageIndex, replica, st.model(), st.optimizer());
          spanLines.add(SpanJson.toLine(new Span(node, stageIndex, -1, Span.Kind.CKPT,
              t0 - epoch, ScheduleFollower.nowMicros() - epoch)));
        }
      }
      if (transport instanceof EmulatedLink e) {
        e.drain(cfg.transfer().readTimeoutMillis());
      }
      List<NodeIterationStats> stats = new ArrayList<>();
      List<String> spans = new ArrayList<>();
      Map<Integer, String> planOf = new TreeMap<>();
      for (ExecutorSlots.CachedStage.Carried c : st.carried(spec.firstIteration(),
          spec.endIteration())) {
        stats.add(c.stats());
        spans.addAll(c.spanLines());
        planOf.put(c.stats().iteration(), c.planHash());
      }
      st.keepCarried(spec.endIteration(), spec.endIteration()); // the chunk is done
      return new ChunkResult(node, me.executorId(), me.host(), me.key(), resume,
          a.newestStep(), stats, spans,
          planOf, role.source() == Roles.Source.CACHE, a.notes(), new ArrayList<>(timings));
    } catch (Throwable t) {
      primary = t;
      if (transport != null) {
        transport.abort("node " + node + " failed: " + t);
      }
      if (st != null && st.dirty()) { // half-stepped weights: the next attempt must not use them
        slot.dropCache();
      } else if (st != null) {
        st.model().abortAll(); // the microbatches in flight die with the attempt
      }
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
    }
  }

  /** The test hook (spark.skippipe.test.failAt), on the first attempt of its chunk only. */
  private static void hook(ChunkSpec spec, int node, int iteration) throws InterruptedException {
    JobConfig.FailureHook hook = spec.config().failAt();
    if (hook == null || hook.chunk() != spec.chunk() || hook.iteration() != iteration
        || hook.node() != node || spec.attempt() != 0) {
      return;
    }
    if (hook.stall()) {
      LOG.warn("test hook spark.skippipe.test.failAt: node {} stops reading and computing at"
          + " iteration {}", node, iteration);
      while (true) {
        Thread.sleep(60_000); // until the attempt is cancelled (an interrupt)
      }
    }
    throw new IllegalStateException("test hook spark.skippipe.test.failAt=" + hook.chunk() + ":"
        + iteration + ":" + node + " failed node " + node + " on purpose");
  }

  /**
   * The node's stage at the resume step, as its role says; installed as the slot's cached stage
   * (replacing and closing what the slot held before).
   */
  private static ExecutorSlots.CachedStage prepareStage(ChunkSpec spec, Plan plan,
      Roles.Assignment a, Roles.Role role, ExecutorSlots.Slot slot, CheckpointStore store,
      CheckpointStore snapshots, Configuration hadoop) throws IOException {
    ExecutorSlots.CachedStage c = slot.cached();
    long resume = a.resumeStep();
    if (role.source() == Roles.Source.CACHE) {
      if (c == null || c.node() != role.node() || c.stage() != role.stage()
          || c.step() != resume) {
        throw new IllegalStateException("node " + role.node() + " was to continue from its cached"
            + " stage " + role.stage() + " at step " + resume + ", but the slot holds "
            + (c == null ? "nothing" : "node " + c.node() + " stage " + c.stage() + " at step "
            + c.step()));
      }
      c.model().abortAll(); // nothing of a failed attempt stays in flight
      return c;
    }
    JobConfig cfg = spec.config();
    LlamaConfig llama = ModelInit.llama(cfg, plan.model(), hadoop);
    ai.djl.Device device = DevicePlacement.resolve(cfg.compute().device(),
        org.apache.spark.TaskContext.get());
    DevicePlacement.check(device);
    StageModel model = StageModel.create(llama, role.stage(), cfg.seed(), StageOptions.defaults()
        .withDevice(device).withPrecision(cfg.compute().stagePrecision())
        .withActivationCheckpointing(plan.model().activationCheckpointing()));
    AdamW opt = new AdamW(model, cfg.train().adamW());
    try {
      switch (role.source()) {
        case COMMIT -> StageState.load(store, spec.commitStep(), role.stage(), 0, model, opt);
        case REPLICA -> StageState.load(snapshots, resume, role.stage(), 0, model, opt);
        case NEIGHBOURS -> StageRecovery.rebuild(model, role.neighbours(),
            a.fromSnapshots() ? snapshots : store, a.fromSnapshots() ? resume
                : spec.commitStep(), store, spec.commitStep());
        default -> ModelInit.loadWeights(cfg, model, hadoop); // INIT: model.init or the seed
      }
    } catch (IOException | RuntimeException e) {
      opt.close();
      model.close();
      throw e;
    }
    ExecutorSlots.CachedStage fresh = new ExecutorSlots.CachedStage(role.node(), role.stage(),
        resume, new double[0], model, opt);
    slot.cache(fresh);
    return fresh;
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

  /**
   * The network the attempt emulates and pads compute to, for the plan's node ids: the links, hop
   * overhead and compute cost of {@code spec.networkJson()}, each plan node with the location and
   * speed of the network node it stands for ({@code spec.origin()}).
   */
  static ClusterProfile network(ChunkSpec spec, Plan plan) {
    ClusterProfile net;
    try {
      net = ProfileJson.cluster(new com.fasterxml.jackson.databind.ObjectMapper()
          .readTree(spec.networkJson()), "the emulated network");
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("the chunk's network profile is not JSON", e);
    }
    List<Node> nodes = new ArrayList<>();
    for (Node x : plan.cluster().nodes()) {
      Node o = net.nodes().get(spec.origin().getOrDefault(x.id(), x.id()));
      nodes.add(new Node(x.id(), o.location(), o.speed(), x.memoryMicrobatches(), x.lost()));
    }
    return net.withNodes(nodes, plan.cluster().stageSizes());
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
