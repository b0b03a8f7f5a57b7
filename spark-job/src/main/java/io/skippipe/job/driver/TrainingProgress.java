package io.skippipe.job.driver;

import io.skippipe.job.task.chunk.ChunkJob;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Where the running chunk is, seen from the driver while it runs: every task adds {@code
 * node:step} to the {@link ChunkJob#PROGRESS} accumulator after each iteration, and executors send
 * their running tasks' accumulators with each heartbeat ({@code spark.executor.heartbeatInterval},
 * 10 s by default), so the driver knows each node's newest completed step within one heartbeat.
 * Used to name the node that is behind, and by fault benchmarks and tests to act at an iteration.
 */
public final class TrainingProgress extends SparkListener {
  private final Map<Integer, Long> stepOfNode = new TreeMap<>();

  /** A listener registered on the session's listener bus. */
  public static TrainingProgress attach(JavaSparkContext jsc) {
    TrainingProgress p = new TrainingProgress();
    jsc.sc().addSparkListener(p);
    return p;
  }

  @Override
  public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
    for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t
        : CollectionConverters.asJava(e.accumUpdates())) {
      record(CollectionConverters.asJava(t._4()));
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    if (e.taskInfo() != null) {
      record(CollectionConverters.asJava(e.taskInfo().accumulables()));
    }
  }

  private synchronized void record(List<AccumulableInfo> infos) {
    for (AccumulableInfo a : infos) {
      if (a.name().isDefined() && a.name().get().equals(ChunkJob.PROGRESS)
          && a.update().isDefined() && a.update().get() instanceof List<?> l && !l.isEmpty()) {
        String last = String.valueOf(l.get(l.size() - 1));
        int colon = last.indexOf(':');
        stepOfNode.put(Integer.parseInt(last.substring(0, colon)),
            Long.parseLong(last.substring(colon + 1)));
        notifyAll();
      }
    }
  }

  /** The newest step each node reported, by node. */
  public synchronized Map<Integer, Long> steps() {
    return Map.copyOf(stepOfNode);
  }

  /** The newest step any node reported, or -1. */
  public synchronized long maxStep() {
    return stepOfNode.values().stream().mapToLong(Long::longValue).max().orElse(-1);
  }

  /**
   * Waits until some node reports step {@code step} or later.
   *
   * @return whether it did within {@code timeoutMillis}
   */
  public synchronized boolean awaitStep(long step, long timeoutMillis)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (maxStep() < step) {
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        return false;
      }
      wait(left);
    }
    return true;
  }
}
