package io.skippipe.job.task.chunk;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import scala.Function1;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Submits one chunk attempt as one barrier job (one task per live node of the attempt's plan) and
 * collects the node reports, within the driver's deadline for the attempt.
 */
public final class ChunkJob {
  private ChunkJob() {}

  /** The accumulator a task adds "node:step" to after each completed iteration. */
  public static final String PROGRESS = "skippipe.progress";

  /**
   * Spark accumulators the tasks add to (visible in the Spark UI / history server per stage);
   * {@code progress} reaches the driver with executor heartbeats while the chunk runs.
   */
  public record Accumulators(LongAccumulator iterations, LongAccumulator busyMicros,
      LongAccumulator waitMicros, CollectionAccumulator<String> progress)
      implements java.io.Serializable {}

  private static final Map<String, Accumulators> BY_APP = new ConcurrentHashMap<>();

  /** The run's accumulators, registered once per Spark application. */
  public static Accumulators accumulators(JavaSparkContext jsc) {
    return BY_APP.computeIfAbsent(jsc.sc().applicationId(), id -> new Accumulators(
        jsc.sc().longAccumulator("skippipe.nodeIterations"),
        jsc.sc().longAccumulator("skippipe.busyMicros"),
        jsc.sc().longAccumulator("skippipe.waitMicros"),
        jsc.sc().collectionAccumulator(PROGRESS)));
  }

  /** A chunk attempt ran past its deadline and was cancelled. */
  public static final class ChunkTimeoutException extends RuntimeException {
    public ChunkTimeoutException(String message) {
      super(message);
    }
  }

  /**
   * Runs the chunk attempt on {@code tasks} barrier tasks; a failed task fails the job (Spark does
   * not retry a barrier ResultStage).
   *
   * @param timeoutMillis the attempt's deadline; 0 = none
   * @throws ChunkTimeoutException when the deadline passed (the job is cancelled, its tasks
   *     interrupted)
   */
  public static List<ChunkResult> run(JavaSparkContext jsc, ChunkSpec spec, int tasks,
      long timeoutMillis) throws Exception {
    Accumulators acc = accumulators(jsc);
    RDD<Integer> rdd = jsc.parallelize(IntStream.range(0, tasks).boxed().toList(), tasks).rdd();
    ClassTag<ChunkResult> tag = ClassTag$.MODULE$.apply(ChunkResult.class);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<ChunkResult>> f =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<ChunkResult>>
            & java.io.Serializable)
            it -> CollectionConverters.asScala(Sneaky.call(() -> count(StageTask.run(spec, acc),
                acc)).iterator());
    String group = "skippipe-" + spec.run() + "-chunk-" + spec.chunk() + "-" + spec.attempt();
    jsc.setJobGroup(group, jobGroupName(spec), true);
    JavaFutureAction<List<ChunkResult>> job;
    try {
      job = new JavaRDD<>(rdd.barrier().mapPartitions(f, false, tag), tag).collectAsync();
    } finally {
      jsc.clearJobGroup();
    }
    try {
      return timeoutMillis > 0 ? job.get(timeoutMillis, TimeUnit.MILLISECONDS) : job.get();
    } catch (TimeoutException e) {
      jsc.cancelJobGroup(group);
      job.cancel(true);
      throw new ChunkTimeoutException("chunk " + spec.chunk() + " attempt " + spec.attempt()
          + " (iterations " + spec.firstIteration() + ".." + (spec.endIteration() - 1)
          + ") ran past its deadline of " + timeoutMillis + " ms"
          + " (spark.skippipe.elastic.chunkTimeoutMs) and was cancelled");
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception x ? x : e;
    }
  }

  /** The Spark UI's name of a chunk, e.g. "SkipPipe chunk 3/10 — iterations 21–30 (attempt 2)". */
  static String jobGroupName(ChunkSpec spec) {
    int total = spec.config().train().iterations();
    int chunks = (total + spec.config().train().chunkIterations() - 1)
        / spec.config().train().chunkIterations();
    String name = "SkipPipe chunk " + (spec.chunk() + 1) + "/" + chunks + " \u2014 iterations "
        + (spec.firstIteration() + 1) + "\u2013" + (spec.firstIteration() + spec.iterations());
    return spec.attempt() == 0 ? name : name + " (attempt " + (spec.attempt() + 1) + ")";
  }

  private static List<ChunkResult> count(List<ChunkResult> results, Accumulators acc) {
    for (ChunkResult r : results) {
      for (NodeIterationStats s : r.iterations()) { // failed attempts merge no accumulators
        acc.iterations().add(1);
        acc.busyMicros().add(s.busyMicros());
        acc.waitMicros().add(s.waitMicros());
      }
    }
    return results;
  }
}
