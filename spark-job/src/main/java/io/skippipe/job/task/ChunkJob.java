package io.skippipe.job.task;

import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import scala.Function1;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/** Submits one training chunk as one barrier job (one task per node) and collects node reports. */
public final class ChunkJob {
  private ChunkJob() {}

  /** Spark accumulators the tasks add to (visible in the Spark UI / history server per stage). */
  public record Accumulators(org.apache.spark.util.LongAccumulator iterations,
      org.apache.spark.util.LongAccumulator busyMicros,
      org.apache.spark.util.LongAccumulator waitMicros) implements java.io.Serializable {}

  private static final java.util.Map<String, Accumulators> BY_APP =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** The run's accumulators, registered once per Spark application. */
  public static Accumulators accumulators(JavaSparkContext jsc) {
    return BY_APP.computeIfAbsent(jsc.sc().applicationId(), id -> new Accumulators(
        jsc.sc().longAccumulator("skippipe.nodeIterations"),
        jsc.sc().longAccumulator("skippipe.busyMicros"),
        jsc.sc().longAccumulator("skippipe.waitMicros")));
  }

  /** Runs the chunk; a failed task fails the job (Spark does not retry a barrier ResultStage). */
  public static List<ChunkResult> run(JavaSparkContext jsc, ChunkSpec spec) {
    Accumulators acc = accumulators(jsc);
    int n = spec.peers().size();
    RDD<Integer> rdd = jsc.parallelize(IntStream.range(0, n).boxed().toList(), n).rdd();
    ClassTag<ChunkResult> tag = ClassTag$.MODULE$.apply(ChunkResult.class);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<ChunkResult>> f =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<ChunkResult>>
            & java.io.Serializable)
            it -> CollectionConverters.asScala(Sneaky.call(() -> count(StageTask.run(spec), acc))
                .iterator());
    jsc.setJobGroup("skippipe-" + spec.run() + "-chunk-" + spec.chunk(), jobGroupName(spec), true);
    try {
      return new JavaRDD<>(rdd.barrier().mapPartitions(f, false, tag), tag).collect();
    } finally {
      jsc.clearJobGroup();
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
      for (NodeIterationStats s : r.iterations()) {
        acc.iterations().add(1);
        acc.busyMicros().add(s.busyMicros());
        acc.waitMicros().add(s.waitMicros());
      }
    }
    return results;
  }
}
