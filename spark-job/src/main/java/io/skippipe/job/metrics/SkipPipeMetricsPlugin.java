package io.skippipe.job.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import java.util.Map;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;

/**
 * Exports {@link TrainingMetrics} through Spark's metrics system, so whatever sinks the cluster
 * configures (JMX, the Prometheus servlet, CSV, Graphite) see the training numbers.
 *
 * <p>Enable with {@code spark.plugins=io.skippipe.job.metrics.SkipPipeMetricsPlugin}. Spark's
 * {@code org.apache.spark.metrics.source.Source} is {@code private[spark]}; a {@link SparkPlugin}
 * whose gauges go into {@link PluginContext#metricRegistry()} is the public route. Spark names them
 * {@code <appId>.<driver|executorId>.plugin.io.skippipe.job.metrics.SkipPipeMetricsPlugin.<gauge>}:
 *
 * <ul>
 *   <li>driver: {@code loss}, {@code tokensPerSecond}, {@code iterationSeconds}, {@code iteration},
 *       {@code chunk}, {@code stage.<s>.idleFraction} for s below {@link
 *       TrainingMetrics#EXPORTED_STAGES}, and the node means below over all nodes;
 *   <li>executors: {@code node.busyFraction}, {@code node.idleFraction} (means over the nodes the
 *       JVM recorded), {@code node.count}.
 * </ul>
 *
 * <p>Spark copies the registry when the plugin registers, before any plan exists, so the gauge set
 * is fixed and values not recorded yet read as {@code NaN}.
 */
public final class SkipPipeMetricsPlugin implements SparkPlugin {

  @Override
  public DriverPlugin driverPlugin() {
    return new Driver();
  }

  @Override
  public ExecutorPlugin executorPlugin() {
    return new Executor();
  }

  /** Registers the driver's gauges: the iteration numbers and the per-stage idle fractions. */
  static final class Driver implements DriverPlugin {
    @Override
    public void registerMetrics(String appId, PluginContext ctx) {
      registerDriverGauges(ctx.metricRegistry(), TrainingMetrics.get());
    }
  }

  /** Registers an executor's gauges: its nodes' busy and idle fractions. */
  static final class Executor implements ExecutorPlugin {
    @Override
    public void init(PluginContext ctx, Map<String, String> extraConf) {
      registerExecutorGauges(ctx.metricRegistry(), TrainingMetrics.get());
    }
  }

  static void registerDriverGauges(MetricRegistry registry, TrainingMetrics m) {
    // The driver also learns every node's share per iteration (from the tasks' reports).
    registerExecutorGauges(registry, m);
    registry.register("loss", (Gauge<Double>) m::loss);
    registry.register("tokensPerSecond", (Gauge<Double>) m::tokensPerSecond);
    registry.register("iterationSeconds", (Gauge<Double>) m::iterationSeconds);
    registry.register("iteration", (Gauge<Long>) m::iteration);
    registry.register("chunk", (Gauge<Integer>) m::chunk);
    for (int s = 0; s < TrainingMetrics.EXPORTED_STAGES; s++) {
      int stage = s;
      registry.register(
          MetricRegistry.name("stage", Integer.toString(s), "idleFraction"),
          (Gauge<Double>) () -> m.stageIdleFraction(stage));
    }
  }

  static void registerExecutorGauges(MetricRegistry registry, TrainingMetrics m) {
    registry.register("node.busyFraction", (Gauge<Double>) m::nodeBusyFraction);
    registry.register("node.idleFraction", (Gauge<Double>) m::nodeIdleFraction);
    registry.register("node.count", (Gauge<Integer>) m::nodeCount);
  }
}
