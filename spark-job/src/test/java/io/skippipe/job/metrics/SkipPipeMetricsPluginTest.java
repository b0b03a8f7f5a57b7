package io.skippipe.job.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real local SparkSession with {@link SkipPipeMetricsPlugin} and Spark's own JMX and CSV sinks:
 * the training gauges must appear in both and follow {@link TrainingMetrics}.
 */
class SkipPipeMetricsPluginTest {
  private static final String PREFIX = "plugin.io.skippipe.job.metrics.SkipPipeMetricsPlugin.";

  @TempDir Path csvDir;
  private SparkSession spark;

  @BeforeEach
  void start() {
    TrainingMetrics.get().reset();
    spark = SparkSession.builder()
        .master("local[2]")
        .appName("metrics-plugin-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.plugins", SkipPipeMetricsPlugin.class.getName())
        .config("spark.metrics.conf.*.sink.jmx.class", "org.apache.spark.metrics.sink.JmxSink")
        .config("spark.metrics.conf.*.sink.csv.class", "org.apache.spark.metrics.sink.CsvSink")
        .config("spark.metrics.conf.*.sink.csv.period", "1")
        .config("spark.metrics.conf.*.sink.csv.unit", "seconds")
        .config("spark.metrics.conf.*.sink.csv.directory", csvDir.toString())
        .getOrCreate();
  }

  @AfterEach
  void stop() {
    spark.stop();
    TrainingMetrics.get().reset();
  }

  @Test
  void jmxAndCsvSinksSeeTheTrainingGauges() throws Exception {
    String appId = spark.sparkContext().applicationId();
    String driver = appId + ".driver." + PREFIX;
    MBeanServer jmx = ManagementFactory.getPlatformMBeanServer();

    // Before any iteration the gauges exist and read NaN / 0.
    assertTrue(Double.isNaN((Double) gauge(jmx, driver + "loss")));
    assertEquals(0L, gauge(jmx, driver + "iteration"));

    TrainingMetrics m = TrainingMetrics.get();
    m.recordIteration(new TrainingMetrics.Iteration(7, 4, 3.25, 1234.5, 2_500_000));
    m.recordStageIdle(2, 0.375);
    m.recordNode(new TrainingMetrics.NodeShare(5, 1, 0.75, 0.25));
    m.recordNode(new TrainingMetrics.NodeShare(6, 1, 0.25, 0.75));

    assertEquals(3.25, (Double) gauge(jmx, driver + "loss"));
    assertEquals(1234.5, (Double) gauge(jmx, driver + "tokensPerSecond"));
    assertEquals(2.5, (Double) gauge(jmx, driver + "iterationSeconds"));
    assertEquals(7L, gauge(jmx, driver + "iteration"));
    assertEquals(4, gauge(jmx, driver + "chunk"));
    assertEquals(0.375, (Double) gauge(jmx, driver + "stage.2.idleFraction"));
    // Stage 1 was not recorded as such: the mean over its nodes' shares.
    assertEquals(0.5, (Double) gauge(jmx, driver + "stage.1.idleFraction"));
    assertTrue(Double.isNaN((Double) gauge(jmx, driver + "stage.3.idleFraction")));
    assertEquals(2, gauge(jmx, driver + "node.count"));
    // local mode: the one executor lives in the driver JVM and registers its plugin before the
    // application id exists, so Spark names its gauges without the "<appId>.driver." prefix.
    assertEquals(0.5, (Double) gauge(jmx, PREFIX + "node.idleFraction"));
    assertEquals(0.5, (Double) gauge(jmx, PREFIX + "node.busyFraction"));
    assertEquals(2, gauge(jmx, PREFIX + "node.count"));

    // The CSV sink reports every second; wait for a row carrying the recorded loss.
    Path lossCsv = csvDir.resolve(driver + "loss.csv");
    long deadline = System.nanoTime() + 15_000_000_000L;
    String last = "";
    while (System.nanoTime() < deadline) {
      last = lastLine(lossCsv);
      if (last.endsWith(",3.25")) {
        break;
      }
      Thread.sleep(200);
    }
    assertTrue(last.endsWith(",3.25"), "last row of " + lossCsv + ": '" + last + "'; files: "
        + listing());
  }

  private static Object gauge(MBeanServer jmx, String name) throws Exception {
    Set<ObjectName> found = jmx.queryNames(new ObjectName("metrics:name=" + name + ",*"), null);
    assertEquals(1, found.size(), "JMX beans named " + name + "; SkipPipe beans: "
        + jmx.queryNames(new ObjectName("metrics:*"), null).stream()
            .filter(n -> n.toString().contains("SkipPipe")).toList());
    return jmx.getAttribute(found.iterator().next(), "Value");
  }

  private static String lastLine(Path file) throws IOException {
    if (!Files.exists(file)) {
      return "";
    }
    List<String> lines = Files.readAllLines(file);
    return lines.isEmpty() ? "" : lines.get(lines.size() - 1).trim();
  }

  private String listing() throws IOException {
    try (Stream<Path> s = Files.list(csvDir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.contains("SkipPipe")).toList()
          .toString();
    }
  }
}
