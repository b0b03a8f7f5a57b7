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

  /** Runs the chunk; a failed task fails the job (Spark does not retry a barrier ResultStage). */
  public static List<ChunkResult> run(JavaSparkContext jsc, ChunkSpec spec) {
    int n = spec.peers().size();
    RDD<Integer> rdd = jsc.parallelize(IntStream.range(0, n).boxed().toList(), n).rdd();
    ClassTag<ChunkResult> tag = ClassTag$.MODULE$.apply(ChunkResult.class);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<ChunkResult>> f =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<ChunkResult>>
            & java.io.Serializable)
            it -> CollectionConverters.asScala(Sneaky.call(() -> StageTask.run(spec)).iterator());
    jsc.setJobDescription("skippipe chunk " + spec.chunk() + " attempt " + spec.attempt());
    return new JavaRDD<>(rdd.barrier().mapPartitions(f, false, tag), tag).collect();
  }
}
