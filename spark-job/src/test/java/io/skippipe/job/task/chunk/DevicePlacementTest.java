package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.deploy.PreflightAccess;
import io.skippipe.job.testing.LocalSparkExtension;
import java.io.File;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/** Issue 9 item 1: spark.skippipe.device → the stage's device, and early clear GPU errors. */
class DevicePlacementTest {
  @Test
  void settingAndTheTasksGpuAddressGiveTheDevice() {
    assertEquals(Device.gpu(0), DevicePlacement.resolve("auto", "0"));
    assertEquals(Device.gpu(3), DevicePlacement.resolve("auto", "3"));
    assertEquals(Device.cpu(), DevicePlacement.resolve("auto", (String) null));
    assertEquals(Device.cpu(), DevicePlacement.resolve("cpu", "0"), "cpu ignores the resource");
    assertEquals(Device.gpu(1), DevicePlacement.resolve("gpu", "1"));
    String m = assertThrows(IllegalArgumentException.class,
        () -> DevicePlacement.resolve("gpu", (String) null)).getMessage();
    assertTrue(m.contains("spark.task.resource.gpu.amount=1"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> DevicePlacement.resolve("auto", "GPU-1a2b")).getMessage();
    assertTrue(m.contains("not a CUDA device index"), m);
  }

  @Test
  void aGpuOnThisCpuOnlyLibtorchIsAClearErrorNamingTheFix() {
    DevicePlacement.check(Device.cpu());
    String m = assertThrows(IllegalStateException.class,
        () -> DevicePlacement.check(Device.gpu(0))).getMessage();
    assertTrue(m.contains("CPU-only") && m.contains("PYTORCH_LIBRARY_PATH")
        && m.contains("spark.skippipe.device=cpu"), m);
    assertTrue(DevicePlacement.libtorchFlavour().startsWith("cpu libtorch 2."),
        DevicePlacement.libtorchFlavour());
  }

  /**
   * local-cluster with a GPU discovery script that gives each executor address 0: the preflight
   * task, and the training job before it writes anything, resolve gpu(0) from Spark's resources
   * and, on this CPU-only libtorch, fail at once with the clear error instead of deep in a
   * training chunk.
   */
  @Test
  void localClusterWithAGpuResourceFailsAtPreflightWithTheFix() throws Exception {
    Path script = Path.of("target", "gpu-discovery.sh").toAbsolutePath();
    Files.createDirectories(script.getParent());
    Files.writeString(script,
        "#!/usr/bin/env bash\necho '{\"name\":\"gpu\",\"addresses\":[\"0\"]}'\n");
    script.toFile().setExecutable(true);
    new File(System.getenv("SPARK_HOME"), "jars").mkdirs();
    SparkConf conf = LocalSparkExtension.localCluster(1, 1).conf()
        .set("spark.worker.resource.gpu.amount", "1")
        .set("spark.worker.resource.gpu.discoveryScript", script.toString())
        .set("spark.executor.resource.gpu.amount", "1")
        .set("spark.executor.resource.gpu.discoveryScript", script.toString())
        .set("spark.task.resource.gpu.amount", "1")
        .set("spark.skippipe.device", "auto");
    SparkSession session = SparkSession.builder().config(conf).getOrCreate();
    try {
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (session.sparkContext().statusTracker().getExecutorInfos().length < 2
          && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(session.sparkContext());
      Path runDir = Files.createTempDirectory("preflight-gpu");
      Exception e = assertThrows(Exception.class,
          () -> PreflightAccess.check(jsc, List.of(runDir.toUri().toString()), 1));
      String m = String.valueOf(e.getMessage());
      assertTrue(m.contains("gpu(0)") && m.contains("CPU-only")
          && m.contains("spark.skippipe.device=cpu"), m);

      // the training job checks the same before it writes anything: a refused setting (exit 2
      // from spark-submit or bin/skippipe), not three failed attempts of the first chunk
      Path jobDir = Files.createTempDirectory("device-job").resolve("run");
      JobConfig cfg = JobConfig.parse(Map.of("spark.skippipe.run.dir", jobDir.toString(),
          "spark.skippipe.network.mode", "direct", "spark.skippipe.device", "auto",
          "spark.skippipe.elastic.replacementWaitMs", "1000"));
      ConfigException refused = assertThrows(ConfigException.class, () -> SkipPipeJob.run(
          session, cfg, Map.of(), new PrintStream(OutputStream.nullOutputStream())));
      assertEquals("spark.skippipe.device", refused.key(), refused.getMessage());
      assertTrue(refused.getMessage().contains("gpu(0)")
          && refused.getMessage().contains("CPU-only"), refused.getMessage());
      assertFalse(Files.exists(jobDir), "the refused run wrote " + jobDir);
    } finally {
      session.stop();
    }
  }
}
