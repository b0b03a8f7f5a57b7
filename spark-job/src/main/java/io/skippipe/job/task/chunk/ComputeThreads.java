package io.skippipe.job.task.chunk;

import org.apache.spark.TaskContext;

/**
 * The PyTorch intra-op thread count of a stage's task: {@code spark.skippipe.train.intraOpThreads},
 * or (0 = auto) the task's CPU allotment {@code spark.task.cpus}, so {@code N} concurrent tasks on
 * an executor of {@code N × task.cpus} cores do not oversubscribe it (libtorch's default is every
 * core in every task: {@code local[12]} on 2 cores ran 24 spinning threads).
 *
 * <p>OpenMP keeps the count per thread, so it is applied on the thread that drives the stage. The
 * count is part of what makes results reproducible: a float reduction split over a different
 * number of threads sums in another order (docs/OPERATIONS.md, "Determinism").
 */
public final class ComputeThreads {
  private ComputeThreads() {}

  /**
   * The thread count for a task.
   *
   * @param configured the key's value; 0 = auto
   * @param task the running task, or null outside Spark (then auto means 1)
   */
  public static int resolve(int configured, TaskContext task) {
    if (configured > 0) {
      return configured;
    }
    return task == null ? 1 : Math.max(1, task.cpus());
  }

  /** Sets the calling thread's intra-op thread count. */
  public static void apply(int threads) {
    // the model's pin: later stage calls on this thread keep this count (not the JVM property's)
    io.skippipe.model.stage.AutogradAdapter.pinIntraOpThreads(threads);
  }
}
