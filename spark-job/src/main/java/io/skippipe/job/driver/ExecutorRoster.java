package io.skippipe.job.driver;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.status.api.v1.ExecutorSummary;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The executors that are registered now and the task slots each offers — what a barrier job can
 * actually get, not {@code defaultParallelism} (which a fresh {@code local-cluster} reports before
 * its executors register, and any {@code spark.default.parallelism} fools).
 *
 * <p>The total comes from the scheduler itself ({@code SparkContext.maxNumConcurrentTasks} for the
 * default resource profile: what Spark's own barrier slot check counts); the executor list, with
 * ids, hosts and {@code maxTasks = cores / spark.task.cpus}, from the application status store,
 * which follows the scheduler's events with a short delay — {@link #now} waits for the two to
 * agree. Both methods are {@code private[spark]} in Scala and public in bytecode.
 */
public final class ExecutorRoster {
  private ExecutorRoster() {}

  /** One executor: its id, host and task slots. */
  public record Executor(String id, String host, int slots) {}

  /** How long {@link #now} waits for the status store to catch up with the scheduler. */
  static final long SETTLE_MILLIS = 10_000;

  /** The executors with task slots, sorted by id (ids compare as numbers where they are). */
  public static List<Executor> now(JavaSparkContext jsc) {
    SparkContext sc = jsc.sc();
    long deadline = System.nanoTime() + SETTLE_MILLIS * 1_000_000L;
    while (true) {
      int total = sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
      List<Executor> out = listed(sc);
      if (slots(out) == total || System.nanoTime() > deadline) {
        return out;
      }
      sleep(100);
    }
  }

  /**
   * Waits up to {@code waitMillis} until the registered executors offer at least {@code wanted}
   * slots (at once when they do; local masters never wait: their slots are fixed), then returns
   * them.
   */
  public static List<Executor> await(JavaSparkContext jsc, int wanted, long waitMillis) {
    long deadline = System.nanoTime() + waitMillis * 1_000_000L;
    boolean fixed = jsc.master().equals("local") || jsc.master().startsWith("local[");
    while (true) {
      List<Executor> out = now(jsc);
      if (slots(out) >= wanted || fixed || System.nanoTime() > deadline) {
        return out;
      }
      sleep(250);
    }
  }

  /** The slots of a roster. */
  public static int slots(List<Executor> roster) {
    return roster.stream().mapToInt(Executor::slots).sum();
  }

  private static List<Executor> listed(SparkContext sc) {
    List<Executor> out = new ArrayList<>();
    for (ExecutorSummary e : CollectionConverters.asJava(sc.statusStore().executorList(true))) {
      if (e.isActive() && e.maxTasks() > 0) {
        String hostPort = e.hostPort();
        int colon = hostPort.lastIndexOf(':');
        out.add(new Executor(e.id(), colon > 0 ? hostPort.substring(0, colon) : hostPort,
            e.maxTasks()));
      }
    }
    out.sort(Comparator.comparing((Executor x) -> x.id().matches("\\d+") ? "" : x.id())
        .thenComparingLong(x -> x.id().matches("\\d+") ? Long.parseLong(x.id()) : 0));
    return out;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while counting executors", e);
    }
  }
}
