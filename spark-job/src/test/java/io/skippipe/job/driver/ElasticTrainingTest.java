package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.job.task.chunk.NodeIterationStats;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.SparkTrainingHarness;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.profile.ProfileJson;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Elastic training on {@code local-cluster[6,1,1024]} — six executor JVMs, one plan node each —
 * with real executor losses: Spark's executor-kill API (the cluster manager stops the JVM and no
 * replacement is asked for) or {@code kill -9} of the executor's process (the standalone master
 * starts a replacement). One cluster for the class; each loss is restored before the next test.
 *
 * <p>The plan is the planner's for a 6-node profile of the toy model's 4 stages, stages sized
 * [2,1,2,1]: two data nodes, one stage with a spare replica, two single-replica stages. Data is
 * the bundled corpus (real text, so the loss falls). Training: 12 iterations in chunks of 4, padded
 * compute and emulated links so an iteration lasts about a second, and a kill lands in the middle
 * of chunk 1 (iterations 4–7) when a node reports step 5 (iteration 4 done).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ElasticTrainingTest {
  @RegisterExtension
  static LocalSparkExtension spark = LocalSparkExtension.localCluster(6, 1)
      .with("spark.executor.heartbeatInterval", "1s")
      // a user setting that makes defaultParallelism lie about the slots a barrier stage gets
      .with("spark.default.parallelism", "2")
      // a retry may find a frozen executor's slot still busy for a moment
      .with("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "30");

  static final int ITERATIONS = 12;
  static final int CHUNK = 4;
  /** Iteration 4 (the first of chunk 1) done: three iterations of chunk 1 are left. */
  static final long KILL_AT_STEP = CHUNK + 1;
  static String base;
  static Plan plan;
  static Map<Integer, String> shards;
  static Run faultFree;

  /** One run's outcome and the node reports of every chunk. */
  record Run(ChunkedTraining.Outcome outcome, List<List<ChunkResult>> chunks, String dir) {
    double finalLoss() {
      return lossAt(ITERATIONS - 1);
    }

    double lossAt(int iteration) {
      for (List<ChunkResult> c : chunks) {
        for (ChunkResult r : c) {
          for (NodeIterationStats s : r.iterations()) {
            if (s.iteration() == iteration) {
              return s.meanLoss();
            }
          }
        }
      }
      throw new AssertionError("no report of iteration " + iteration);
    }

    /** Executor of each node in chunk {@code c}. */
    Map<Integer, String> executors(int c) {
      Map<Integer, String> m = new TreeMap<>();
      chunks.get(c).forEach(r -> m.put(r.node(), r.executorId()));
      return m;
    }

    List<ChunkedTraining.AttemptRecord> attemptsOf(int chunk) {
      return outcome.attempts().stream().filter(a -> a.chunk() == chunk).toList();
    }
  }

  @BeforeAll
  static void prepare() throws Exception {
    base = new File("target/elastic/" + System.nanoTime()).getAbsolutePath();
    Files.createDirectories(Path.of(base));
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      nodes.add(new Node(i, "site" + (i % 3), 1.0, 2));
    }
    ClusterProfile c = new ClusterProfile("elastic-6", "test", nodes, List.of(2, 1, 2, 1),
        Map.of(ClusterProfile.pairKey("site0", "site1"), new Link(60, 0.05),
            ClusterProfile.pairKey("site1", "site2"), new Link(90, 0.05)), new Link(40, 0.05),
        0.03, 0.004, false);
    Files.writeString(Path.of(base, "cluster.json"), ProfileJson.toJson(c).toPrettyString());
    Files.writeString(Path.of(base, "model.json"),
        ProfileJson.toJson(TestPlans.MODEL).toPrettyString());
    JobConfig cfg = config("prepare", Map.of());
    plan = JobPlanning.plan(cfg, uri -> read(uri)).plan();
    shards = DataPrep.prepare(spark.session(), cfg, plan.dataNodes(), plan.model().seqLen(),
        plan.model().vocab(), Map.of()).shards();
    faultFree = train("fault-free", Map.of(), null);
  }

  static byte[] read(String uri) {
    try {
      return Files.readAllBytes(Path.of(uri));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static JobConfig config(String name, Map<String, String> extra) {
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", base + "/" + name);
    m.put("spark.skippipe.cluster", base + "/cluster.json");
    m.put("spark.skippipe.model", base + "/model.json");
    m.put("spark.skippipe.seed", "17");
    m.put("spark.skippipe.network.mode", "emulated");
    m.put("spark.skippipe.network.padCompute", "true");
    m.put("spark.skippipe.network.timeScale", "1");
    m.put("spark.skippipe.train.iterations", "" + ITERATIONS);
    m.put("spark.skippipe.train.chunkIterations", "" + CHUNK);
    m.put("spark.skippipe.train.learningRate", "0.01");
    m.put("spark.skippipe.transfer.readTimeoutMs", "30000");
    m.put("spark.skippipe.transfer.heartbeatMs", "1000");
    m.put("spark.skippipe.elastic.replacementWaitMs", "0");
    m.put("spark.skippipe.elastic.replanFactor", "0");
    m.put("spark.skippipe.train.maxChunkRetries", "4");
    m.putAll(extra);
    return JobConfig.parse(m);
  }

  /**
   * Trains; {@code fault} (when given) runs once a node has reported {@link #KILL_AT_STEP}, with
   * the executors of chunk 0; {@code afterChunk} may block the driver between chunks.
   */
  static Run train(String name, Map<String, String> extra, Fault fault,
      ChunkedTraining.ChunkListener... afterChunk) throws Exception {
    JobConfig cfg = config(name, extra);
    List<List<ChunkResult>> chunks = Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Map<Integer, String>> chunk0 = new CompletableFuture<>();
    TrainingProgress progress = TrainingProgress.attach(spark.jsc()); // this run's steps only
    CompletableFuture<Void> acted = fault == null ? CompletableFuture.completedFuture(null)
        : CompletableFuture.runAsync(() -> {
          try {
            Map<Integer, String> execs = chunk0.get(10, TimeUnit.MINUTES);
            assertTrue(progress.awaitStep(KILL_AT_STEP, 600_000), "no node reached step "
                + KILL_AT_STEP);
            fault.act(execs);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
    ChunkedTraining.Outcome out = SparkTrainingHarness.train(spark.jsc(), plan, cfg, name,
        shards, Map.of(), results -> {
          chunks.add(new ArrayList<>(results));
          if (chunks.size() == 1) {
            Map<Integer, String> m = new TreeMap<>();
            results.forEach(r -> m.put(r.node(), r.executorId()));
            chunk0.complete(m);
          }
          for (ChunkedTraining.ChunkListener l : afterChunk) {
            l.completed(results);
          }
        });
    sc().removeSparkListener(progress);
    acted.get(1, TimeUnit.MINUTES); // the fault happened (and did not throw)
    assertEquals(ITERATIONS, out.lastStep(), name);
    return new Run(out, chunks, base + "/" + name);
  }

  /** What happens to the cluster mid-chunk, given chunk 0's node → executor. */
  interface Fault {
    void act(Map<Integer, String> executors) throws Exception;
  }

  static SparkContext sc() {
    return spark.session().sparkContext();
  }

  /** Waits until {@code n} executors are registered (asking for one more when fewer). */
  static void restore(int n) throws Exception {
    long deadline = System.nanoTime() + 180_000_000_000L;
    // the absolute target: after killExecutor the standalone master's limit is below n (a
    // relative requestExecutors adds to a target that started at 0 without executor.instances)
    assertTrue(sc().requestTotalExecutors(n, 0, emptyHosts()), "executor target " + n);
    while (ExecutorRoster.now(spark.jsc()).size() < n) {
      assertTrue(System.nanoTime() < deadline, "executors did not come back: "
          + ExecutorRoster.now(spark.jsc()));
      Thread.sleep(500);
    }
  }

  static scala.collection.immutable.Map<String, Object> emptyHosts() {
    return scala.collection.immutable.Map$.MODULE$.empty();
  }

  /** kill -9 of an executor's JVM (a child process of this JVM in local-cluster). */
  static void killProcess(String executorId) {
    assertTrue(process(executorId).destroyForcibly(), "SIGKILL to executor " + executorId);
  }

  /** kill -STOP / -CONT of an executor's JVM. */
  static void signal(String signal, String executorId) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + signal, "" + process(executorId).pid())
        .inheritIO().start();
    assertEquals(0, kill.waitFor(), "kill -" + signal + " of executor " + executorId);
  }

  /** The JVM of this application's executor {@code executorId} (its command line names both). */
  static ProcessHandle process(String executorId) {
    String app = sc().applicationId();
    return ProcessHandle.allProcesses().filter(h -> {
      List<String> args = commandLine(h.pid());
      int e = args.indexOf("--executor-id");
      int a = args.indexOf("--app-id");
      return e >= 0 && e + 1 < args.size() && args.get(e + 1).equals(executorId) && a >= 0
          && a + 1 < args.size() && args.get(a + 1).equals(app);
    }).findFirst().orElseThrow(() -> new AssertionError("no process of executor " + executorId
        + " of " + app));
  }

  static List<String> commandLine(long pid) {
    try {
      return List.of(new String(Files.readAllBytes(Path.of("/proc", "" + pid, "cmdline")),
          java.nio.charset.StandardCharsets.UTF_8).split("\0"));
    } catch (java.io.IOException | SecurityException e) {
      return List.of(); // gone meanwhile, or not ours
    }
  }

  static int stageWith(Plan p, int replicas) {
    for (int s = 1; s < p.stages().size(); s++) {
      if (p.stages().get(s).size() == replicas) {
        return s;
      }
    }
    throw new AssertionError("no stage with " + replicas + " replicas in " + p.stages());
  }

  static Plan planOf(Run r, String hash) {
    return PlanCodec.read(Path.of(r.dir(), PlanHistory.planFile(hash)));
  }

  static void assertValid(Plan p) {
    ValidationReport v = ScheduleValidator.check(p, Simulator.run(p).spans());
    assertTrue(v.ok(), v.violations().toString());
  }

  static void assertCloseToFaultFree(Run r) {
    double loss = r.finalLoss();
    assertTrue(Double.isFinite(loss), "final loss " + loss);
    assertTrue(faultFree.finalLoss() < faultFree.lossAt(0) - 0.1, "the fault-free run learns: "
        + faultFree.lossAt(0) + " -> " + faultFree.finalLoss());
    assertTrue(Math.abs(loss - faultFree.finalLoss()) <= 0.03 * faultFree.finalLoss(),
        "final loss " + loss + " vs fault-free " + faultFree.finalLoss());
  }

  @Test
  void theSlotsAreTheRegisteredExecutorsNotDefaultParallelism() {
    assertEquals(2, sc().defaultParallelism(), "spark.default.parallelism=2");
    List<ExecutorRoster.Executor> roster = ExecutorRoster.await(spark.jsc(), 6, 120_000);
    assertEquals(6, ExecutorRoster.slots(roster), roster.toString());
    assertEquals(6, roster.stream().map(ExecutorRoster.Executor::id).distinct().count(),
        roster.toString());
    assertEquals(6, faultFree.outcome().attempts().get(0).liveNodes(), "trained on all six");
  }

  @Test
  void aLostReplicaShrinksItsStageAndTheRunFinishesOnFiveNodesWithoutRollback()
      throws Exception {
    int stage = stageWith(plan, 2);
    int victim = plan.stages().get(stage).get(1);
    Run r = train("replica-lost", Map.of(), execs -> sc().killExecutor(execs.get(victim)));
    try {
      ChunkedTraining.AttemptRecord done = r.attemptsOf(1).get(r.attemptsOf(1).size() - 1);
      assertTrue(r.attemptsOf(1).size() >= 2, "the kill failed an attempt of chunk 1: "
          + r.attemptsOf(1));
      assertEquals(5, done.liveNodes());
      assertEquals(done.newestHeld(), done.resumedAt(), "no iteration trained again");
      assertTrue(done.resumedAt() > CHUNK, "resumed inside chunk 1 from memory: " + done);
      Plan last = planOf(r, r.outcome().planHash());
      assertFalse(last.liveNodes().contains(victim));
      assertEquals(5, last.liveNodes().size());
      assertEquals(List.of(plan.stages().get(stage).get(0)), last.stages().get(stage));
      assertValid(last);
      assertEquals(ITERATIONS, r.chunks().stream().flatMap(List::stream)
          .flatMap(x -> x.iterations().stream()).map(NodeIterationStats::iteration).distinct()
          .count(), "every iteration reported");
      assertCloseToFaultFree(r);
      List<JsonNode> history = new PlanHistory(
          org.apache.hadoop.fs.FileSystem.getLocal(HadoopConfs.current()),
          new org.apache.hadoop.fs.Path(r.dir())).read();
      assertEquals(ITERATIONS, history.get(history.size() - 1).get("toStep").asInt());
      assertTrue(history.size() >= 2, "two plans: " + history);
    } finally {
      restore(6);
    }
  }

  void wholeStageLost(String policy) throws Exception {
    int stage = stageWith(plan, 1);
    int victim = plan.stages().get(stage).get(0);
    Run r = train("stage-lost-" + policy, Map.of("spark.skippipe.elastic.stageRecovery", policy),
        execs -> sc().killExecutor(execs.get(victim)));
    try {
      List<ChunkedTraining.AttemptRecord> attempts = r.attemptsOf(1);
      ChunkedTraining.AttemptRecord done = attempts.get(attempts.size() - 1);
      assertTrue(attempts.size() >= 2, attempts.toString());
      String notes = String.join("\n", done.notes());
      Plan last = planOf(r, r.outcome().planHash());
      assertEquals(1, last.stages().get(stage).size(), "a spare replica took the stage over");
      assertTrue(last.skippedStages().isEmpty());
      assertValid(last);
      if (policy.equals("neighbours")) {
        assertEquals(done.newestHeld(), done.resumedAt(), "neighbours: nothing rolls back");
        assertTrue(notes.contains("rebuilt from stages"), notes);
      } else {
        assertEquals(CHUNK, done.resumedAt(), "checkpoint: back to the commit of chunk 0");
        assertTrue(done.newestHeld() > done.resumedAt(), done.toString());
        assertTrue(notes.contains("trained again"), notes);
      }
      assertTrue(Double.isFinite(r.finalLoss()));
    } finally {
      restore(6);
    }
  }

  @Test
  void aWholeStageLostIsRebuiltFromTheLastCommit() throws Exception {
    wholeStageLost("checkpoint");
  }

  @Test
  void aWholeStageLostIsRebuiltFromItsNeighbours() throws Exception {
    wholeStageLost("neighbours");
  }

  /**
   * kill -9 of a replica's executor JVM mid-chunk. The cluster manager is first told to keep five
   * executors (as when spot capacity is gone), so no replacement races the retry: the retry waits
   * {@code elastic.replacementWaitMs} for the sixth executor, then re-plans onto the five that
   * exist. After that chunk a sixth executor is asked for; it joins the next chunk as a new node.
   */
  @Test
  void aKilledExecutorThatComesBackRejoinsAtTheNextChunk() throws Exception {
    int stage = stageWith(plan, 2);
    int victim = plan.stages().get(stage).get(1);
    long waitMs = 3_000;
    Run r = train("comes-back", Map.of("spark.skippipe.elastic.replacementWaitMs", "" + waitMs),
        execs -> {
          assertTrue(sc().requestTotalExecutors(5, 0, emptyHosts()),
              "the cluster manager took the executor target");
          killProcess(execs.get(victim));
        }, results -> {
          if (results.size() == 5) { // the shrunken chunk: let a new executor register first
            try {
              restore(6);
            } catch (Exception e) {
              throw new java.io.IOException(e);
            }
          }
        });
    List<Integer> sizes = r.outcome().attempts().stream().filter(a -> a.failure() == null)
        .map(ChunkedTraining.AttemptRecord::liveNodes).toList();
    assertEquals(List.of(6, 5, 6), sizes, r.outcome().attempts().toString());
    List<ChunkedTraining.AttemptRecord> chunk1 = r.attemptsOf(1);
    assertTrue(chunk1.size() >= 2 && chunk1.get(0).failure() != null,
        "the kill failed the first attempt of chunk 1: " + chunk1);
    ChunkedTraining.AttemptRecord shrunk = chunk1.get(chunk1.size() - 1);
    assertTrue(shrunk.seconds() >= waitMs / 1e3, "waited for a replacement first: " + shrunk);
    assertEquals(shrunk.newestHeld(), shrunk.resumedAt(), "no iteration trained again: " + shrunk);
    assertTrue(shrunk.resumedAt() > CHUNK, "resumed inside chunk 1 from memory: " + shrunk);
    assertFalse(r.executors(1).containsValue(r.executors(0).get(victim)),
        "the killed executor ran nothing after the kill: " + r.executors(1));
    Plan shrunkPlan = planOf(r, shrunk.planHash());
    assertFalse(shrunkPlan.liveNodes().contains(victim), shrunkPlan.liveNodes().toString());
    assertEquals(List.of(plan.stages().get(stage).get(0)), shrunkPlan.stages().get(stage));
    assertValid(shrunkPlan);
    Plan last = planOf(r, r.outcome().planHash());
    assertEquals(6, last.liveNodes().size());
    assertTrue(last.nodeCount() > 6, "the new executor is a new node: " + last.nodeCount());
    assertValid(last);
    List<JsonNode> history = new PlanHistory(
        org.apache.hadoop.fs.FileSystem.getLocal(HadoopConfs.current()),
        new org.apache.hadoop.fs.Path(r.dir())).read();
    assertTrue(history.stream().map(h -> h.get("plan").asText()).distinct().count() >= 3,
        "the run directory records the first, the shrunken and the grown plan: " + history);
    assertEquals(ITERATIONS, history.get(history.size() - 1).get("toStep").asInt());
    assertCloseToFaultFree(r);
    double faulted = chunk1.stream().mapToDouble(ChunkedTraining.AttemptRecord::seconds).sum();
    double clean = faultFree.attemptsOf(1).stream()
        .mapToDouble(ChunkedTraining.AttemptRecord::seconds).sum();
    System.out.printf(java.util.Locale.ROOT, "kill -9 recovery: chunk 1 took %.1f s in %d"
        + " attempts (the failed one %.1f s) vs %.1f s fault-free: %.1f s lost%n", faulted,
        chunk1.size(), chunk1.get(0).seconds(), clean, faulted - clean);
  }

  @Test
  void aFrozenPeerFailsTheChunkNamingItAndTheRetryMatchesAFaultFreeRun() throws Exception {
    int victim = plan.stages().get(stageWith(plan, 1)).get(0);
    java.util.concurrent.CountDownLatch jobFailed = new java.util.concurrent.CountDownLatch(1);
    org.apache.spark.scheduler.SparkListener failures =
        new org.apache.spark.scheduler.SparkListener() {
          @Override
          public void onJobEnd(org.apache.spark.scheduler.SparkListenerJobEnd e) {
            if (!(e.jobResult() instanceof org.apache.spark.scheduler.JobSucceeded$)) {
              jobFailed.countDown();
            }
          }
        };
    sc().addSparkListener(failures);
    Run r;
    try {
      // SIGSTOP: the JVM stops reading, computing and sending heartbeats; its peers' block
      // transfer sees the silence; SIGCONT once the attempt failed so its slot frees up
      r = train("frozen", Map.of("spark.skippipe.transfer.readTimeoutMs", "8000"), execs -> {
        signal("STOP", execs.get(victim));
        try {
          assertTrue(jobFailed.await(120, TimeUnit.SECONDS), "the frozen chunk never failed");
        } finally {
          signal("CONT", execs.get(victim));
        }
      });
    } finally {
      sc().removeSparkListener(failures);
    }
    ChunkedTraining.AttemptRecord failed = r.attemptsOf(1).get(0);
    assertTrue(failed.failure() != null && failed.failure().contains("node " + victim),
        "the failure names the frozen node " + victim + ": " + failed.failure());
    // one iteration (about a second) before the freeze, one read timeout, a loaded machine's slack
    assertTrue(failed.seconds() < 8 + 30, "failed after " + failed.seconds() + " s");
    assertEquals(faultFree.finalLoss(), r.finalLoss(), 0.0,
        "the retry (from memory or the commit) is the fault-free run, bit for bit");
  }
}
