package io.skippipe.job.driver;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.ChunkJob;
import io.skippipe.job.task.ChunkResult;
import io.skippipe.job.task.ChunkSpec;
import io.skippipe.job.task.SlotAddress;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

  /**
   * Everything fixed for the run.
   *
   * @param run the id of this process's attempt at the run (names executor state and blocks)
   * @param lineage the run's lineage ({@code run.json}); every commit records it
   * @param resumeFrom the commit training starts from (empty: the initial weights)
   * @param originMicros the run's time origin for measured spans (wall clock, µs)
   */
  public record RunSetup(String run, String lineage, Optional<Commit> resumeFrom,
      long originMicros, String planJson, String planHash, Map<String, Integer> roles,
      Map<Integer, SlotAddress> peers, byte[] secret, JobConfig config, String checkpointRoot,
      Map<Integer, String> shards, Map<String, String> hadoop) {}

  /**
   * Called when a chunk's tasks have all finished, before its steps are committed, with the
   * chunk's node reports. Metrics written here cover every completed iteration; a crash before the
   * commit leaves rows that a resume from the older commit replaces ({@link MetricsLog#resumeAt}).
   */
  public interface ChunkListener {
    void completed(List<ChunkResult> results) throws IOException;
  }

  /** What the loop did. */
  public record Outcome(long firstStep, long lastStep, int failedAttempts,
      List<ChunkResult> results, List<Integer> chunksReusingCache) {}

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
    JobConfig cfg = setup.config();
    int total = cfg.train().iterations();
    int chunkSize = cfg.train().chunkIterations();
    long step = setup.resumeFrom().map(Commit::step).orElse(0L);
    long first = step;
    long resumeStep = setup.resumeFrom().isPresent() ? step : -1;
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
            setup.shards(), setup.hadoop(), setup.originMicros());
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
      afterChunk.completed(results);
      long end = step + k;
      int every = cfg.checkpoint().everyIterations();
      for (long s = step + 1; s <= end; s++) {
        if (s == end || (every > 0 && s % every == 0)) {
          store.commit(s, setup.lineage(), setup.planHash());
          afterCommit.accept(s);
        }
      }
      store.retain(setup.lineage(), cfg.checkpoint().keep());
      if (results.stream().allMatch(ChunkResult::reusedCachedWeights)) {
        reusing.add(chunk);
      }
      all.addAll(results);
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
