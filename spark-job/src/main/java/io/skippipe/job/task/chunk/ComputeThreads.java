package io.skippipe.job.task.chunk;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PyTorch thread counts of a stage's task (issue 11 item 2). Intra-op:
 * {@code spark.skippipe.train.intraOpThreads}, or (0 = auto) the task's CPU allotment — {@code
 * spark.task.cpus} on a cluster, where Spark reserves that many cores per task; in {@code local[N]}
 * and {@code local-cluster[n,c,m]}, whose task slots all share this machine, the machine's cores
 * divided by the concurrent task slots ({@code N / task.cpus}, {@code n·c / task.cpus}), at least 1.
 * So {@code N} concurrent tasks never oversubscribe the cores (libtorch's default is every core in
 * every task: {@code local[12]} on 2 cores ran 24 spinning threads), and {@code local[2]} on 16
 * cores gives each task 8. Inter-op: {@code spark.skippipe.train.interOpThreads}, 0 = the intra-op
 * count; it is process-wide and can only be set before libtorch's pool starts.
 *
 * <p>OpenMP keeps the intra-op count per thread, so it is applied on the thread that drives the
 * stage. The count is part of what makes results reproducible: a float reduction split over a
 * different number of threads sums in another order (docs/OPERATIONS.md, "What is deterministic").
 */
public final class ComputeThreads {
  private static final Logger LOG = LoggerFactory.getLogger(ComputeThreads.class);
  private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d+)(?:,\\s*\\d+)?])?");
  private static final Pattern LOCAL_CLUSTER =
      Pattern.compile("local-cluster\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*,\\s*\\d+\\s*]");
  private static final AtomicBoolean INTER_OP_WARNED = new AtomicBoolean();

  private ComputeThreads() {}

  /**
   * The intra-op thread count of a task.
   *
   * @param configured the key's value; 0 = auto
   * @param taskCpus {@code spark.task.cpus}
   * @param master the Spark master URL ({@code local[4]}, {@code yarn}, ...)
   * @param machineCores cores of this machine ({@code Runtime.availableProcessors()})
   */
  public static int resolve(int configured, int taskCpus, String master, int machineCores) {
    if (configured > 0) {
      return configured;
    }
    int cpus = Math.max(1, taskCpus);
    Matcher local = LOCAL.matcher(master);
    Matcher cluster = LOCAL_CLUSTER.matcher(master);
    int slots;
    if (local.matches()) {
      int cores = local.group(1) == null ? 1
          : local.group(1).equals("*") ? machineCores : Integer.parseInt(local.group(1));
      slots = Math.max(1, cores / cpus);
    } else if (cluster.matches()) {
      slots = Math.max(1, Integer.parseInt(cluster.group(1)) * Integer.parseInt(cluster.group(2))
          / cpus);
    } else {
      return cpus;
    }
    return Math.max(1, machineCores / slots);
  }

  /** The intra-op thread count of the running task (outside Spark: the configured one, else 1). */
  public static int resolve(int configured, TaskContext task) {
    if (task == null || SparkEnv.get() == null) {
      return Math.max(1, configured);
    }
    return resolve(configured, task.cpus(), SparkEnv.get().conf().get("spark.master", "local"),
        Runtime.getRuntime().availableProcessors());
  }

  /**
   * Sets the calling thread's intra-op thread count and this JVM's inter-op pool ({@code
   * interOp}, 0 = {@code intraOp}); a pool that already started with another size is kept, with
   * one WARN.
   */
  public static void apply(int intraOp, int interOp) {
    // the model's pin: later stage calls on this thread keep this count (not the JVM property's)
    io.skippipe.model.stage.AutogradAdapter.pinIntraOpThreads(intraOp);
    int inter = interOp > 0 ? interOp : intraOp;
    if (!io.skippipe.model.stage.AutogradAdapter.setInterOpThreads(inter)
        && INTER_OP_WARNED.compareAndSet(false, true)) {
      LOG.warn("libtorch's inter-op pool had started before it could be sized to {} threads"
          + " (spark.skippipe.train.interOpThreads); it keeps its size", inter);
    }
  }

  /** Sets the calling thread's intra-op thread count only (tests, single-process tools). */
  public static void apply(int threads) {
    io.skippipe.model.stage.AutogradAdapter.pinIntraOpThreads(threads);
  }
}
