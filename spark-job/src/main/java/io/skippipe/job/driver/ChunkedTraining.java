package io.skippipe.job.driver;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.ChunkJob;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.job.task.chunk.ChunkSpec;
import io.skippipe.job.task.chunk.ModelInit;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import io.skippipe.scheduler.plan.Plan;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.LongConsumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's training loop: chunks of K iterations, each one barrier job per attempt; after a
 * chunk every step its tasks checkpointed is committed ({@code _COMMITTED} written last, naming the
 * plan that produced the step) and old steps are pruned.
 *
 * <p>Every attempt starts on the executors registered now ({@link ExecutorRoster}, waiting up to
 * {@code elastic.replacementWaitMs} for the slots the current plan needs) with the plan {@link
 * Membership} makes for them; the attempt's tasks meet in its own barrier job and decide where
 * training resumes ({@link io.skippipe.job.task.role.Roles}): a failed attempt is retried from the
 * last iteration the surviving nodes completed, or from the last commit when that is not possible,
 * up to {@code train.maxChunkRetries} times (Spark does not retry a failed barrier ResultStage
 * itself, stack-probe §2), each within the driver's deadline ({@code elastic.chunkTimeoutMs}).
 * After each chunk the measured iteration time is checked against the plan ({@link
 * AdaptiveReplanning}). Every plan used is kept in {@code RUN_DIR/plans} ({@link PlanHistory}).
 */
public final class ChunkedTraining {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkedTraining.class);

  /**
   * Everything fixed for the run.
   *
   * @param run the id of this process's attempt at the run (names executor state and blocks)
   * @param lineage the run's lineage ({@code run.json}); every commit records it
   * @param resumeFrom the commit training starts from (empty: the initial weights)
   * @param originMicros the run's time origin for measured spans (wall clock, µs)
   * @param plan the first plan (validated, with its prediction)
   * @param preferred plan node → executor slot it should run in (the probe's numbering), or empty
   * @param transfer the block transfer settings, encryption resolved against the master
   * @param runDir the run directory (plan history, recovery snapshots)
   * @param shards data node of the first plan → its shard
   * @param networkJson the network the emulation reproduces (ChunkSpec)
   */
  public record RunSetup(String run, String lineage, Optional<Commit> resumeFrom,
      long originMicros, Plan plan, String planJson, String planHash,
      Map<Integer, String> preferred, byte[] secret, JobConfig config, TransferConfig transfer,
      String checkpointRoot, String runDir, Map<Integer, String> shards,
      Map<String, String> hadoop, String networkJson) {}

  /**
   * Called when a chunk's tasks have all finished, before its steps are committed, with the
   * chunk's node reports. Metrics written here cover every completed iteration; a crash before the
   * commit leaves rows that a resume from the older commit replaces ({@link MetricsLog#resumeAt}).
   */
  public interface ChunkListener {
    void completed(List<ChunkResult> results) throws IOException;
  }

  /**
   * One chunk attempt as the driver saw it.
   *
   * @param resumedAt the step the attempt resumed from (-1 when it failed: the tasks decide)
   * @param newestHeld the newest step a node held when it started (-1 when it failed)
   * @param seconds wall time from the attempt's start to its end
   * @param failure the failure, or null for the attempt that completed the chunk
   * @param notes the attempt's decisions (re-plan, recoveries, rollbacks)
   */
  public record AttemptRecord(int chunk, int attempt, String planHash, int liveNodes,
      long resumedAt, long newestHeld, double seconds, String failure, List<String> notes) {}

  /** What the loop did; {@code attempts} lists every chunk attempt in order. */
  public record Outcome(long firstStep, long lastStep, int failedAttempts,
      List<ChunkResult> results, List<Integer> chunksReusingCache, List<AttemptRecord> attempts,
      String planHash) {}

  private ChunkedTraining() {}

  /**
   * Trains from {@code setup.resumeFrom()} (or the initial weights) to
   * {@code config.train().iterations()}.
   *
   * @param afterChunk called when each chunk has finished, before its commit (metrics, progress)
   */
  public static Outcome train(JavaSparkContext jsc, RunSetup setup, CheckpointStore store,
      ChunkListener afterChunk) throws IOException {
    return train(jsc, setup, store, afterChunk, step -> {});
  }

  /**
   * {@link #train(JavaSparkContext, RunSetup, CheckpointStore, ChunkListener)}, calling {@code
   * afterCommit} with each step right after its commit (before retention prunes older steps).
   */
  public static Outcome train(JavaSparkContext jsc, RunSetup setup, CheckpointStore store,
      ChunkListener afterChunk, LongConsumer afterCommit) throws IOException {
    Configuration conf = HadoopConfs.current(setup.hadoop());
    Path runDir = new Path(HadoopConfs.toUri(setup.runDir()));
    FileSystem fs = runDir.getFileSystem(conf);
    TrainingProgress progress = TrainingProgress.attach(jsc);
    try {
      return loop(jsc, setup, store, afterChunk, afterCommit, fs, runDir, progress);
    } finally {
      jsc.sc().removeSparkListener(progress);
    }
  }

  private static Outcome loop(JavaSparkContext jsc, RunSetup setup, CheckpointStore store,
      ChunkListener afterChunk, LongConsumer afterCommit, FileSystem fs, Path runDir,
      TrainingProgress progress)
      throws IOException {
    JobConfig cfg = setup.config();
    int total = cfg.train().iterations();
    int chunkSize = cfg.train().chunkIterations();
    long step = setup.resumeFrom().map(Commit::step).orElse(0L);
    long first = step;
    long commitStep = setup.resumeFrom().isPresent() ? step : -1;
    Membership members = new Membership(cfg, setup.plan(), setup.planJson(), setup.planHash(),
        setup.preferred(), setup.shards());
    PlanHistory history = new PlanHistory(fs, runDir);
    history.resumeAt(step);
    history.savePlan(setup.planHash(), setup.planJson());
    int failed = 0;
    double slowestSecondsPerIteration = 0;
    List<ChunkResult> all = new ArrayList<>();
    List<Integer> reusing = new ArrayList<>();
    List<AttemptRecord> attempts = new ArrayList<>();
    while (step < total) {
      int chunk = (int) (step / chunkSize);
      int k = (int) Math.min(chunkSize, total - step);
      List<ChunkResult> results = null;
      Membership.Attempt at = null;
      long started = 0;
      int attempt = -1;
      while (results == null) {
        attempt++;
        started = System.nanoTime();
        Path recovery = new Path(runDir, "recovery/chunk-" + chunk + "-attempt-" + attempt);
        List<String> notes = new ArrayList<>();
        try {
          List<ExecutorRoster.Executor> roster = ExecutorRoster.await(jsc,
              members.plan().liveNodes().size(), cfg.elastic().replacementWaitMillis());
          at = members.next(roster);
          notes.addAll(at.log());
          for (String l : at.log()) {
            LOG.warn("chunk {} attempt {}: {}", chunk, attempt, l);
          }
          history.savePlan(at.hash(), at.json());
          ChunkSpec spec = new ChunkSpec(setup.run(), sessionTag(setup.run(), chunk, attempt),
              chunk, attempt, at.json(), at.hash(), at.preferred(), at.recover(),
              setup.secret(), cfg, setup.transfer(), setup.checkpointRoot(),
              recovery.toString(), commitStep, (int) step, k, at.shards(), setup.hadoop(),
              setup.originMicros(), setup.networkJson(), at.origin());
          long deadline = cfg.elastic().chunkTimeoutMillis() > 0
              ? cfg.elastic().chunkTimeoutMillis() : slowestSecondsPerIteration <= 0 ? 0
              : (long) (4_000 * slowestSecondsPerIteration * k)
                  + 2L * cfg.transfer().readTimeoutMillis();
          results = ChunkJob.run(jsc, spec, at.plan().liveNodes().size(), deadline);
        } catch (Exception e) { // SparkException (checked in Java) arrives unchecked from Scala
          failed++;
          String why = rootMessage(e);
          if (e instanceof ChunkJob.ChunkTimeoutException) {
            why += "; newest step per node (heartbeats): " + progress.steps();
          }
          attempts.add(new AttemptRecord(chunk, attempt, at == null ? "" : at.hash(),
              at == null ? 0 : at.plan().liveNodes().size(), -1, -1,
              (System.nanoTime() - started) / 1e9, why, notes));
          if (attempt >= cfg.train().maxChunkRetries()) {
            throw new ChunkFailedException("chunk " + chunk + " (iterations " + step + ".."
                + (step + k - 1) + ") failed " + (attempt + 1) + " times; the last committed"
                + " checkpoint is step " + (commitStep < 0 ? "none" : commitStep) + " under "
                + store.root() + ". Last error: " + why, e);
          }
          LOG.warn("chunk {} attempt {} failed after {} s ({}); retrying on the executors"
              + " registered now", chunk, attempt,
              String.format("%.1f", (System.nanoTime() - started) / 1e9), why);
          pause(); // the scheduler learns of a lost executor around the time its peers do

        } finally {
          fs.delete(recovery, true);
        }
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      ChunkResult any = results.get(0);
      List<String> notes = new ArrayList<>(at.log());
      notes.addAll(any.notes());
      any.notes().forEach(l -> LOG.warn("chunk {}: {}", chunk, l));
      attempts.add(new AttemptRecord(chunk, attempt, at.hash(), at.plan().liveNodes().size(),
          any.resumedAt(), any.newestHeld(), seconds, null, notes));
      members.ran(results);
      afterChunk.completed(results);
      long end = step + k;
      commit(store, setup, members.plan(), results, any.resumedAt(), end, commitStep,
          afterCommit);
      store.retain(setup.lineage(), cfg.checkpoint().keep());
      history.add(rows(results, members, chunk));
      if (results.stream().allMatch(ChunkResult::reusedCachedWeights)) {
        reusing.add(chunk);
      }
      slowestSecondsPerIteration = Math.max(slowestSecondsPerIteration,
          seconds / Math.max(1, end - any.resumedAt()));
      all.addAll(results);
      step = end;
      commitStep = end;
      if (step < total && cfg.elastic().replanFactor() > 0) {
        AdaptiveReplanning.Result r = AdaptiveReplanning.check(members.plan(), members.hash(),
            results, cfg);
        r.log().forEach(l -> LOG.warn("after chunk {}: {}", chunk, l));
        if (r.plan() != null) {
          String before = members.hash();
          members.adopt(r.plan(), String.format(java.util.Locale.ROOT, "measured %.3f s vs"
              + " predicted %.3f s per iteration (profile units): re-planned on the fitted"
              + " profile%s", r.measuredSeconds(), r.predictedSeconds(),
              r.straggler() == null ? "" : "; " + r.straggler()));
          history.savePlan(members.hash(), io.skippipe.scheduler.plan.PlanCodec
              .toJsonString(members.plan()));
          LOG.warn("after chunk {}: plan {} -> {}", chunk, before.substring(0, 12),
              members.hash().substring(0, 12));
        }
      }
    }
    return new Outcome(first, step, failed, all, reusing, attempts, members.hash());
  }

  /**
   * Commits the steps the completed attempt produced: (resumedAt, end], the chunk end and every
   * {@code checkpoint.everyIterations}-th. A stage no node serves (every path skips it) keeps the
   * files of the previous commit — it did not train — or its initial weights before the first.
   */
  private static void commit(CheckpointStore store, RunSetup setup, Plan plan,
      List<ChunkResult> results, long resumedAt, long end, long lastCommit,
      LongConsumer afterCommit) throws IOException {
    Map<Integer, String> planOf = new TreeMap<>();
    results.forEach(r -> planOf.putAll(r.planOfIteration()));
    int every = setup.config().checkpoint().everyIterations();
    long previous = lastCommit;
    for (long s = resumedAt + 1; s <= end; s++) {
      if (s == end || (every > 0 && s % every == 0)) {
        for (int stage : plan.skippedStages()) {
          keepStage(store, setup, plan, stage, previous, s);
        }
        store.commit(s, setup.lineage(), planOf.getOrDefault((int) s - 1, ""));
        afterCommit.accept(s);
        previous = s;
      }
    }
  }

  private static void keepStage(CheckpointStore store, RunSetup setup, Plan plan, int stage,
      long from, long to) throws IOException {
    if (from >= 0) {
      for (String name : List.of(StageState.WEIGHTS, StageState.OPTIMIZER)) {
        String rel = CheckpointStore.replicaFile(stage, 0, name);
        try (InputStream in = store.open(from, rel); OutputStream out = store.create(to, rel)) {
          in.transferTo(out);
        }
      }
      return;
    }
    JobConfig cfg = setup.config();
    Configuration hadoop = HadoopConfs.current(setup.hadoop());
    try (StageModel m = StageModel.create(ModelInit.llama(cfg, plan.model(), hadoop), stage,
        cfg.seed()); AdamW o = new AdamW(m, cfg.train().adamW())) {
      ModelInit.loadWeights(cfg, m, hadoop); // the stage's initial weights, as its node would
      StageState.save(store, to, stage, 0, m, o);
    }
  }

  /** The plan history rows of a completed chunk: one per stretch of iterations under one plan. */
  private static List<PlanHistory.Row> rows(List<ChunkResult> results, Membership members,
      int chunk) {
    Map<Integer, String> planOf = new TreeMap<>();
    results.forEach(r -> planOf.putAll(r.planOfIteration()));
    Map<Integer, String> executors = new TreeMap<>(members.slots());
    List<PlanHistory.Row> rows = new ArrayList<>();
    Plan p = members.plan();
    for (Map.Entry<Integer, String> e : planOf.entrySet()) {
      int it = e.getKey();
      PlanHistory.Row last = rows.isEmpty() ? null : rows.get(rows.size() - 1);
      if (last != null && last.plan().equals(e.getValue()) && last.toStep() == it) {
        rows.set(rows.size() - 1, new PlanHistory.Row(last.plan(), last.fromStep(), it + 1L,
            chunk, last.nodes(), last.skippedStages(), last.executors(),
            last.predictedIterationSeconds(), last.reason()));
        continue;
      }
      boolean current = e.getValue().equals(members.hash());
      rows.add(new PlanHistory.Row(e.getValue(), it, it + 1L, chunk,
          current ? p.liveNodes() : List.of(), current ? p.skippedStages() : List.of(),
          current ? executors : Map.of(), current ? p.iterationSeconds() : Double.NaN,
          current ? members.reason() : "an earlier attempt of chunk " + chunk));
    }
    return rows;
  }

  private static void pause() {
    try {
      Thread.sleep(1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted between chunk attempts", e);
    }
  }

  /** A per-attempt tag for block headers: blocks of different attempts never mix. */
  static long sessionTag(String run, int chunk, int attempt) {
    return ((long) run.hashCode() << 32) ^ ((long) chunk << 8) ^ attempt;
  }

  static String rootMessage(Throwable t) {
    Throwable c = t;
    String best = t.getMessage();
    while (c != null) {
      if (c.getMessage() != null && (c instanceof IOException || c instanceof IllegalStateException
          || c instanceof IllegalArgumentException
          || c instanceof ChunkJob.ChunkTimeoutException
          || c instanceof Membership.InsufficientNodesException)) {
        best = c.getClass().getSimpleName() + ": " + c.getMessage();
      }
      c = c.getCause();
    }
    if (best != null && best.length() > 600) {
      best = best.substring(0, 600) + "...";
    }
    return best;
  }

  /** A chunk failed more often than allowed. */
  public static final class ChunkFailedException extends RuntimeException {
    public ChunkFailedException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
