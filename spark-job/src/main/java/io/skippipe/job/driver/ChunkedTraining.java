package io.skippipe.job.driver;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.ChunkJob;
import io.skippipe.job.task.ChunkResult;
import io.skippipe.job.task.ChunkSpec;
import io.skippipe.job.task.ScheduleFollower;
import io.skippipe.job.task.SlotAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's training loop: chunks of K iterations, each one barrier job; after a chunk every
 * step its tasks checkpointed is committed ({@code _COMMITTED} written last) and old steps are
 * pruned. A failed chunk is re-run from the last commit, up to {@code maxChunkRetries} times,
 * because Spark does not retry a failed barrier ResultStage itself (stack-probe §2).
 */
public final class ChunkedTraining {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkedTraining.class);

  /** Everything fixed for the run. */
  public record RunSetup(String run, String planJson, String planHash,
      Map<String, Integer> roles, Map<Integer, SlotAddress> peers, byte[] secret,
      JobConfig config, String checkpointRoot, Map<Integer, String> shards,
      Map<String, String> hadoop) {}

  /** What the loop did. */
  public record Outcome(long firstStep, long lastStep, int failedAttempts,
      List<ChunkResult> results, List<Integer> chunksReusingCache) {}

  private ChunkedTraining() {}

  /**
   * Trains from the newest committed step (if {@code resume}) to {@code config.train().iterations()}.
   *
   * @param afterChunk called with each chunk's node reports (metrics, progress)
   */
  public static Outcome train(JavaSparkContext jsc, RunSetup setup, CheckpointStore store,
      Consumer<List<ChunkResult>> afterChunk) throws IOException {
    return train(jsc, setup, store, afterChunk, step -> {});
  }

  /**
   * {@link #train(JavaSparkContext, RunSetup, CheckpointStore, Consumer)}, calling {@code
   * afterCommit} with each step right after its commit (before retention prunes older steps).
   */
  public static Outcome train(JavaSparkContext jsc, RunSetup setup, CheckpointStore store,
      Consumer<List<ChunkResult>> afterChunk, LongConsumer afterCommit) throws IOException {
    JobConfig cfg = setup.config();
    int total = cfg.train().iterations();
    int chunkSize = cfg.train().chunkIterations();
    Optional<Commit> latest = cfg.checkpoint().resume() ? store.latest() : Optional.empty();
    if (latest.isPresent() && !latest.get().planHash().equals(setup.planHash())) {
      throw new IllegalArgumentException("the newest checkpoint " + store.root() + "/"
          + CheckpointStore.stepDir(latest.get().step()) + " was trained under plan "
          + latest.get().planHash() + ", but this run plans " + setup.planHash() + ". Fix: use a"
          + " new spark.skippipe.run.dir, pass the old plan with spark.skippipe.plan.file, or set"
          + " spark.skippipe.checkpoint.resume=false");
    }
    long step = latest.map(Commit::step).orElse(0L);
    long first = step;
    long resumeStep = latest.isPresent() ? step : -1;
    int failed = 0;
    List<ChunkResult> all = new ArrayList<>();
    List<Integer> reusing = new ArrayList<>();
    while (step < total) {
      int chunk = (int) (step / chunkSize);
      int k = (int) Math.min(chunkSize, total - step);
      List<ChunkResult> results = null;
      for (int attempt = 0; results == null; attempt++) {
        ChunkSpec spec = new ChunkSpec(setup.run(), sessionTag(setup.run(), chunk, attempt), chunk,
            attempt, setup.planJson(), setup.planHash(), setup.roles(), setup.peers(),
            setup.secret(), cfg, setup.checkpointRoot(), resumeStep, (int) step, k,
            setup.shards(), setup.hadoop(), ScheduleFollower.nowMicros());
        try {
          results = ChunkJob.run(jsc, spec);
        } catch (Exception e) { // SparkException (checked in Java) arrives unchecked from Scala
          failed++;
          if (attempt >= cfg.train().maxChunkRetries()) {
            throw new ChunkFailedException("chunk " + chunk + " (iterations " + step + ".."
                + (step + k - 1) + ") failed " + (attempt + 1) + " times; the last committed"
                + " checkpoint is step " + (resumeStep < 0 ? "none" : resumeStep) + " under "
                + store.root() + ". Last error: " + rootMessage(e), e);
          }
          LOG.warn("chunk {} attempt {} failed ({}); re-running it from {}", chunk, attempt,
              rootMessage(e), resumeStep < 0 ? "the initial weights" : "step " + resumeStep);
        }
      }
      long end = step + k;
      int every = cfg.checkpoint().everyIterations();
      for (long s = step + 1; s <= end; s++) {
        if (s == end || (every > 0 && s % every == 0)) {
          store.writeDriverFile(s, "cursor.json", ("{\"iteration\":" + s + ",\"seed\":"
              + cfg.seed() + "}").getBytes(StandardCharsets.UTF_8));
          store.commit(s, setup.planHash());
          afterCommit.accept(s);
        }
      }
      store.retain(cfg.checkpoint().keep());
      if (results.stream().allMatch(ChunkResult::reusedCachedWeights)) {
        reusing.add(chunk);
      }
      all.addAll(results);
      afterChunk.accept(results);
      step = end;
      resumeStep = end;
    }
    return new Outcome(first, step, failed, all, reusing);
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
          || c instanceof IllegalArgumentException)) {
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
