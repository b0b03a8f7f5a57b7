package io.skippipe.job.metrics;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The latest training numbers of this JVM, read by {@link SkipPipeMetricsPlugin}'s gauges and so
 * exported through Spark's metrics system (JMX, Prometheus servlet, CSV, ... as configured).
 *
 * <p>One instance per JVM ({@link #get()}): the driver records one {@link Iteration} per finished
 * iteration and per-stage idle fractions, or the nodes' shares from which they are derived; an
 * executor may record its own nodes' busy and idle fractions ({@link #recordNode}). All methods are thread-safe and cheap (a volatile write or a
 * concurrent-map put), so the training loop may call them every iteration. Values never recorded
 * read as {@code NaN}, which every Spark sink prints as such rather than as a misleading zero.
 */
public final class TrainingMetrics {
  /** Stages exported as driver gauges {@code stage.<s>.idleFraction}; Spark fixes the gauge set
   * when the plugin registers (before any plan exists), so a fixed capacity is registered. */
  public static final int EXPORTED_STAGES = 16;

  private static final TrainingMetrics JVM_WIDE = new TrainingMetrics();

  /**
   * One finished iteration as the driver saw it.
   *
   * @param iteration 1-based optimizer step, counting steps before a resume
   * @param chunk 1-based chunk (barrier job) the iteration ran in
   * @param loss mean training loss over the iteration's microbatches
   * @param tokensPerSecond tokens trained in the iteration divided by its wall time
   * @param iterationMicros wall time of the iteration
   */
  public record Iteration(
      long iteration, int chunk, double loss, double tokensPerSecond, long iterationMicros) {
    public Iteration {
      if (iteration < 1 || chunk < 1 || iterationMicros < 0 || tokensPerSecond < 0) {
        throw new IllegalArgumentException("invalid iteration record: iteration=" + iteration
            + " chunk=" + chunk + " tokensPerSecond=" + tokensPerSecond + " iterationMicros="
            + iterationMicros + " (iteration and chunk are 1-based, times non-negative)");
      }
    }
  }

  /** One node's (executor task slot's) share of the last iteration. */
  public record NodeShare(int node, int stage, double busyFraction, double idleFraction) {
    public NodeShare {
      checkFraction("busyFraction", busyFraction);
      checkFraction("idleFraction", idleFraction);
    }
  }

  private final AtomicReference<Iteration> last = new AtomicReference<>();
  private final double[] stageIdle = new double[EXPORTED_STAGES];
  private final Map<Integer, NodeShare> nodes = new ConcurrentHashMap<>();

  TrainingMetrics() {
    Arrays.fill(stageIdle, Double.NaN);
  }

  /** The instance of this JVM: the one the runtime updates and the plugin exports. */
  public static TrainingMetrics get() {
    return JVM_WIDE;
  }

  /** Driver: records a finished iteration (replaces the previous one). */
  public void recordIteration(Iteration it) {
    last.set(it);
  }

  /**
   * Driver: the fraction of the last iteration's wall time that stage {@code stage}'s nodes spent
   * neither computing nor sending (mean over the stage's nodes). Stages at or above
   * {@link #EXPORTED_STAGES} are accepted and not exported.
   */
  public void recordStageIdle(int stage, double idleFraction) {
    if (stage < 0) {
      throw new IllegalArgumentException("stage must be >= 0, was " + stage);
    }
    checkFraction("idleFraction", idleFraction);
    if (stage < EXPORTED_STAGES) {
      synchronized (stageIdle) {
        stageIdle[stage] = idleFraction;
      }
    }
  }

  /** Executor: records a node's busy/idle share of the last iteration (one node per task slot). */
  public void recordNode(NodeShare share) {
    nodes.put(share.node(), share);
  }

  /** The last recorded iteration, or null before the first. */
  public Iteration lastIteration() {
    return last.get();
  }

  public double loss() {
    Iteration it = last.get();
    return it == null ? Double.NaN : it.loss();
  }

  public double tokensPerSecond() {
    Iteration it = last.get();
    return it == null ? Double.NaN : it.tokensPerSecond();
  }

  public double iterationSeconds() {
    Iteration it = last.get();
    return it == null ? Double.NaN : it.iterationMicros() / 1e6;
  }

  /** Iterations done so far (0 before the first). */
  public long iteration() {
    Iteration it = last.get();
    return it == null ? 0 : it.iteration();
  }

  /** Chunk of the last iteration (0 before the first). */
  public int chunk() {
    Iteration it = last.get();
    return it == null ? 0 : it.chunk();
  }

  /**
   * Stage {@code stage}'s idle fraction: the value recorded with {@link #recordStageIdle}, else the
   * mean over the nodes of that stage recorded in this JVM ({@link #recordNode}), else NaN.
   */
  public double stageIdleFraction(int stage) {
    double recorded;
    synchronized (stageIdle) {
      recorded = stageIdle[stage];
    }
    if (!Double.isNaN(recorded)) {
      return recorded;
    }
    return nodes.values().stream().filter(n -> n.stage() == stage)
        .mapToDouble(NodeShare::idleFraction).average().orElse(Double.NaN);
  }

  /** Mean idle fraction over the nodes this JVM hosts (one in a cluster, several in local mode). */
  public double nodeIdleFraction() {
    return nodes.values().stream().mapToDouble(NodeShare::idleFraction).average()
        .orElse(Double.NaN);
  }

  /** Mean busy fraction over the nodes this JVM hosts. */
  public double nodeBusyFraction() {
    return nodes.values().stream().mapToDouble(NodeShare::busyFraction).average()
        .orElse(Double.NaN);
  }

  /** Nodes this JVM has recorded. */
  public int nodeCount() {
    return nodes.size();
  }

  /** Forgets everything (a new run in the same JVM, e.g. tests and the MLlib estimator). */
  public void reset() {
    last.set(null);
    synchronized (stageIdle) {
      Arrays.fill(stageIdle, Double.NaN);
    }
    nodes.clear();
  }

  private static void checkFraction(String name, double v) {
    if (!(v >= 0 && v <= 1)) {
      throw new IllegalArgumentException(name + " must be in [0, 1], was " + v);
    }
  }
}
