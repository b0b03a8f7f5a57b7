package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.InMemoryBlockTransport;
import io.skippipe.job.transfer.Mailbox;
import io.skippipe.job.transfer.TcpBlockServer;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.PathTrainer;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.timeline.Span;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine on 6 nodes as threads (no Spark) against the single-process {@link PathTrainer}: after
 * training every node's stage weights equal the reference's within
 * {@link io.skippipe.job.testing.SparkTrainingHarness#REFERENCE_TOLERANCE}.
 */
class ScheduleFollowerTest {
  static final long SEED = 11;
  static final double LR = 1e-2;
  static final double CLIP = 1.0;

  static Map<Integer, Map<String, float[]>> reference(Plan plan, int iterations, double[] losses) {
    LlamaConfig cfg = Models.llama(plan.model());
    ComputeThreads.apply(1); // the node threads below run at one intra-op thread too
    try (PathTrainer t = new PathTrainer(cfg, new PathTrainer.Config(SEED,
        AdamWConfig.llamaDefaults(), LrSchedule.constant(LR, iterations), CLIP))) {
      for (int it = 0; it < iterations; it++) {
        List<PathTrainer.Microbatch> mbs = new ArrayList<>();
        for (int m = 0; m < plan.microbatches().size(); m++) {
          mbs.add(new PathTrainer.Microbatch(m, TestPlans.tokens(it, m),
              TestPlans.stagePath(plan, m)));
        }
        losses[it] = t.step(mbs).meanLoss();
      }
      Map<Integer, Map<String, float[]>> out = new HashMap<>();
      for (int s = 0; s < cfg.stages(); s++) {
        out.put(s, t.stages().get(s).exportWeights());
      }
      return out;
    }
  }

  @ParameterizedTest(name = "{0} over {1}, {2} iterations")
  @CsvSource({"skippipe,memory,1", "dtfm,memory,1", "skippipe,memory,2", "skippipe,tcp,2",
      "skippipe,tls,2"})
  void weightsEqualThePathTrainerAfterTraining(String method, String transport, int iterations)
      throws Exception {
    Plan plan = method.equals("dtfm") ? TestPlans.dtfm() : TestPlans.skippipe();
    double[] refLoss = new double[iterations];
    Map<Integer, Map<String, float[]>> expected = reference(plan, iterations, refLoss);
    List<Span> spans = Collections.synchronizedList(new ArrayList<>());
    List<NodeIterationStats> stats = Collections.synchronizedList(new ArrayList<>());
    List<Map<String, float[]>> weights = train(plan, transport, iterations, spans, stats);
    for (int node = 0; node < plan.nodeCount(); node++) {
      Map<String, float[]> got = weights.get(node);
      Map<String, float[]> want = expected.get(plan.stageOf(node));
      assertEquals(want.keySet(), got.keySet());
      for (String name : want.keySet()) {
        float[] a = want.get(name);
        float[] b = got.get(name);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
          worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        assertTrue(worst <= io.skippipe.job.testing.SparkTrainingHarness.REFERENCE_TOLERANCE,
            "node " + node + " " + name + " differs by " + worst);
      }
    }
    for (NodeIterationStats s : stats) {
      assertEquals(refLoss[s.iteration()], s.meanLoss(), 1e-5, "mean loss, node " + s.node());
    }
    // every microbatch was computed forward and backward once on every node of its path
    long fwd = spans.stream().filter(s -> s.kind() == Span.Kind.FWD).count();
    long pathNodes = plan.microbatches().stream().mapToLong(m -> m.path().size()).sum();
    assertEquals(pathNodes * iterations, fwd);
    assertEquals(fwd, spans.stream().filter(s -> s.kind() == Span.Kind.BWD).count());
  }

  /** Encryption changes the bytes on the wire, never what arrives: weights are bit-identical. */
  @org.junit.jupiter.api.Test
  void trainingOverTlsGivesBitIdenticalWeightsToPlainTcp() throws Exception {
    Plan plan = TestPlans.skippipe();
    List<Map<String, float[]>> plain = train(plan, "tcp", 2, new ArrayList<>(), new ArrayList<>());
    List<Map<String, float[]>> tls = train(plan, "tls", 2, new ArrayList<>(), new ArrayList<>());
    for (int node = 0; node < plan.nodeCount(); node++) {
      for (String name : plain.get(node).keySet()) {
        assertArrayEquals(plain.get(node).get(name), tls.get(node).get(name),
            "node " + node + " " + name);
      }
    }
  }

  /**
   * A NaN stops at the node that made it, before it is sent: the check runs on the tensor, and the
   * error names the node, stage, call and microbatch. Proven by breaking one weight (a NaN in the
   * first q_proj of the stage a non-data node holds); the other nodes are aborted by it.
   */
  @org.junit.jupiter.api.Test
  void aNonFiniteActivationStopsAtTheNodeThatMadeIt() throws Exception {
    Plan plan = TestPlans.skippipe();
    LlamaConfig cfg = Models.llama(plan.model());
    int bad = -1;
    for (int node = 0; node < plan.nodeCount() && bad < 0; node++) {
      if (plan.stageOf(node) > 0) {
        bad = node;
      }
    }
    int badNode = bad;
    int badStage = plan.stageOf(badNode);
    InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(3, 8);
    List<BlockTransport> endpoints = new ArrayList<>();
    for (int i = 0; i < plan.nodeCount(); i++) {
      endpoints.add(net.endpoint(i));
    }
    ExecutorService pool = Executors.newFixedThreadPool(plan.nodeCount());
    try {
      List<Future<?>> runs = new ArrayList<>();
      long epoch = ScheduleFollower.nowMicros();
      for (int node = 0; node < plan.nodeCount(); node++) {
        int me = node;
        runs.add(pool.submit(() -> {
          ComputeThreads.apply(1);
          try (StageModel stage = StageModel.create(cfg, plan.stageOf(me), SEED);
              AdamW opt = new AdamW(stage, AdamWConfig.llamaDefaults())) {
            if (me == badNode) {
              String q = "model.layers." + cfg.firstLayer(badStage) + ".self_attn.q_proj.weight";
              float[] w = stage.exportWeight(q);
              w[0] = Float.NaN;
              stage.importWeight(q, w);
            }
            ScheduleFollower f = new ScheduleFollower(plan, me, stage, opt,
                new Mailbox(endpoints.get(me)),
                new ScheduleFollower.Settings(CLIP, 20_000, false, 1.0), s -> { }, epoch);
            try {
              f.runIteration(0, LR, TestPlans::tokens);
            } catch (Exception e) {
              endpoints.get(me).abort(e.toString());
              throw e;
            }
          }
          return null;
        }));
      }
      java.util.concurrent.ExecutionException e = assertThrows(
          java.util.concurrent.ExecutionException.class, () -> runs.get(badNode).get());
      assertInstanceOf(IllegalStateException.class, e.getCause());
      String msg = e.getCause().getMessage();
      assertTrue(msg.matches("node " + badNode + " \\(stage " + badStage + "\\): forward of"
          + " microbatch \\d+ produced NaN at element \\d+ of \\d+"), msg);
    } finally {
      pool.shutdownNow();
      endpoints.forEach(BlockTransport::close);
    }
  }

  /**
   * Trains {@code iterations} on every node of {@code plan} as threads over {@code transport}
   * (memory, tcp, or tls = TCP with encryption); returns each node's stage weights.
   */
  static List<Map<String, float[]>> train(Plan plan, String transport, int iterations,
      List<Span> spans, List<NodeIterationStats> stats) throws Exception {
    LlamaConfig cfg = Models.llama(plan.model());
    int n = plan.nodeCount();
    List<BlockTransport> endpoints = new ArrayList<>();
    List<TcpBlockServer> servers = new ArrayList<>();
    if (!transport.equals("memory")) {
      TransferConfig tc = TransferConfig.loopback().withEncryption(transport.equals("tls")
          ? TransferConfig.Encryption.ON : TransferConfig.Encryption.OFF);
      Map<Integer, InetSocketAddress> addrs = new HashMap<>();
      Map<Integer, String> pins = new HashMap<>();
      for (int i = 0; i < n; i++) {
        servers.add(new TcpBlockServer(tc, "k".getBytes()));
        addrs.put(i, servers.get(i).address());
        pins.put(i, servers.get(i).certSha256());
      }
      for (int i = 0; i < n; i++) {
        endpoints.add(servers.get(i).openSession(3, i, addrs, pins));
      }
    } else {
      InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(3, 8);
      for (int i = 0; i < n; i++) {
        endpoints.add(net.endpoint(i));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<Map<String, float[]>>> weights = new ArrayList<>();
      long epoch = ScheduleFollower.nowMicros();
      for (int node = 0; node < n; node++) {
        int me = node;
        weights.add(pool.submit(() -> {
          ComputeThreads.apply(1);
          try (StageModel stage = StageModel.create(cfg, plan.stageOf(me), SEED);
              AdamW opt = new AdamW(stage, AdamWConfig.llamaDefaults())) {
            ScheduleFollower f = new ScheduleFollower(plan, me, stage, opt,
                new Mailbox(endpoints.get(me)),
                new ScheduleFollower.Settings(CLIP, 20_000, false, 1.0), spans::add, epoch);
            try {
              for (int it = 0; it < iterations; it++) {
                stats.add(f.runIteration(it, LR, TestPlans::tokens));
              }
            } catch (Exception e) {
              endpoints.get(me).abort(e.toString());
              throw e;
            }
            return stage.exportWeights();
          }
        }));
      }
      List<String> failures = new ArrayList<>();
      List<Map<String, float[]>> out = new ArrayList<>();
      for (int node = 0; node < n; node++) {
        try {
          out.add(weights.get(node).get());
        } catch (java.util.concurrent.ExecutionException e) {
          failures.add("node " + node + ": " + e.getCause());
        }
      }
      assertEquals(List.of(), failures);
      return out;
    } finally {
      pool.shutdownNow();
      endpoints.forEach(BlockTransport::close);
      servers.forEach(TcpBlockServer::close);
    }
  }
}
