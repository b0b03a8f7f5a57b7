package io.skippipe.job.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.testing.MiniYarn;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.yarn.api.records.ApplicationAttemptReport;
import org.apache.hadoop.yarn.api.records.ApplicationId;
import org.apache.hadoop.yarn.api.records.ApplicationReport;
import org.apache.hadoop.yarn.api.records.ContainerReport;
import org.apache.hadoop.yarn.api.records.ContainerState;
import org.apache.hadoop.yarn.api.records.FinalApplicationStatus;
import org.apache.hadoop.yarn.api.records.SignalContainerCommand;
import org.apache.hadoop.yarn.api.records.YarnApplicationAttemptState;
import org.apache.hadoop.yarn.api.records.YarnApplicationState;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * deploy/yarn/submit.sh against a real YARN (MiniYARNCluster) and HDFS (MiniDFSCluster) in this
 * JVM ({@link MiniYarn}): cluster deploy mode, the driver in the ApplicationMaster's container,
 * the dist jar and Spark's jars localised from HDFS, executors in their own containers. The
 * assertions read YARN's application report and the run directory in HDFS, never log text.
 *
 * <p>The job is llama-tiny split into 3 stages of 4 layers on a 3-node cluster profile written
 * here (one executor container per node, one task slot each; submit.sh's skip ratio 0.33 then
 * means paths of 2 of the 3 stages), everything else as submit.sh and
 * deploy/spark-defaults.conf say, except what a small CPU-only cluster must change (no GPUs, small
 * containers, the DJL cache of this machine): {@link #tinyClusterArgs}.
 */
@ExtendWith(SharedMiniYarn.class)
class YarnSubmitIT {
  private static final Path ROOT = Paths.get(System.getProperty("skippipe.repo.root", ".."))
      .toAbsolutePath().normalize();
  /** Upper bound for one application; a healthy one takes 1-3 minutes on a loaded 2-core host. */
  private static final long APP_TIMEOUT_SECONDS = 900;
  private static final String MODEL = "llama-tiny-3stages.json";
  private static final String CLUSTER = "yarn-3nodes.json";
  private static Path work;

  @BeforeAll
  static void inputAndProfiles(MiniYarn yarn) throws IOException {
    work = Files.createDirectories(DistJarIT.TARGET.resolve("yarn-it/submissions"));
    // llama-tiny (conf/models/llama-tiny.json) cut into 3 stages of 4 layers instead of 6 of 2.
    Files.writeString(work.resolve(MODEL), """
        {"name": "llama-tiny-3stages", "description": "llama-tiny in 3 stages of 4 layers",
         "dim": 64, "layers": 12, "heads": 4, "kvHeads": 2, "ffnDim": 176, "vocab": 1024,
         "seqLen": 64, "layersPerStage": 4, "samplesPerMicrobatch": 4,
         "microbatchesPerDataNode": 2, "activationBytesPerElement": 4}
        """);
    Files.writeString(work.resolve(CLUSTER), """
        {"name": "yarn-3nodes", "description": "three executors of one MiniYARNCluster host",
         "memoryMicrobatches": 2,
         "nodes": [{"id": 0, "location": "here"}, {"id": 1, "location": "here"},
                   {"id": 2, "location": "here"}],
         "stageSizes": [1, 1, 1], "links": [],
         "defaultLink": {"latencyMs": 1, "bandwidthGBps": 1.0},
         "hopOverheadSeconds": 0.005, "computeSecondsPerSampleLayer": 0.002}
        """);
    // The production input path of submit.sh: JSON lines with a "text" field.
    try (FileSystem fs = yarn.fs();
        var out = fs.create(new org.apache.hadoop.fs.Path("/data/corpus/train.jsonl"), true)) {
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < 300; i++) {
        text.append("{\"text\": \"Container ").append(i)
            .append(" of the application trained stage ").append(i % 2)
            .append(" and wrote its checkpoint to HDFS.\"}\n");
      }
      out.write(text.toString().getBytes(StandardCharsets.UTF_8));
    }
  }

  /** (a) Two chunks on YARN: FINISHED/SUCCEEDED, both steps committed in HDFS, metrics there. */
  @Test
  void trainsTwoChunksInClusterModeWithInputAndRunDirectoryOnHdfs(MiniYarn yarn) throws Exception {
    Submission s = submit(yarn, "two-chunks", training(2, 1), Map.of());
    ApplicationReport report = s.awaitExit(yarn);
    assertSucceeded(s, report);
    assertEquals(1, yarn.client().getApplicationAttempts(s.app).size(), s.describe());
    try (FileSystem fs = yarn.fs()) {
      assertTrue(fs.exists(new org.apache.hadoop.fs.Path(s.runDir() + "/plan.json")),
          s.describe());
      assertEquals(List.of(1L, 2L), committedSteps(fs, s.runDir()), s.describe());
      assertEquals(List.of(0, 1), iterations(fs, s.runDir()), s.describe());
    }
  }

  /**
   * (b) The ApplicationMaster's container (the driver) killed by YARN mid-run, with submit.sh's
   * spark.yarn.maxAppAttempts=2: the second attempt resumes from the newest commit and finishes.
   * The commits made before the kill are not made again (their markers keep their HDFS
   * modification times: no restart from step 0) and the metrics hold each iteration exactly once.
   */
  @Test
  void aKilledApplicationMasterIsResumedFromTheLastCommitByTheSecondAttempt(MiniYarn yarn)
      throws Exception {
    int iterations = 6;
    Submission s = submit(yarn, "am-killed", training(iterations, 1), Map.of());
    ApplicationAttemptReport first = s.awaitAttempt(yarn, 1);
    try (FileSystem fs = yarn.fs()) {
      s.awaitCommitted(fs, 2);
      yarn.client().signalToContainer(first.getAMContainerId(),
          SignalContainerCommand.FORCEFUL_SHUTDOWN);
      Map<Long, Long> beforeKill = commitTimes(fs, s.runDir());
      ApplicationReport report = s.awaitExit(yarn);
      assertSucceeded(s, report);
      assertEquals(2, yarn.client().getApplicationAttempts(s.app).size(),
          "the killed ApplicationMaster must have been followed by a second attempt; "
              + s.describe());
      assertTrue(beforeKill.size() < iterations, "the kill came after the run finished; "
          + beforeKill + " " + s.describe());
      Map<Long, Long> after = commitTimes(fs, s.runDir());
      beforeKill.forEach((step, mtime) -> assertEquals(mtime, after.get(step),
          "step " + step + " was committed again: the second attempt did not resume; "
              + s.describe()));
      assertEquals(range(1, iterations), List.copyOf(after.keySet()), s.describe());
      assertEquals(range(0, iterations - 1).stream().map(Long::intValue).toList(),
          iterations(fs, s.runDir()), "one metrics row per iteration; " + s.describe());
    }
  }

  /**
   * (c) One executor container killed through YARN mid-run. What issue 8 asks for (training
   * goes on without it) or, until then, a clear failure: the application ends within the
   * timeout (no hang), the commits made before the kill are intact, and it either succeeds with
   * every step committed or fails with a report that names the failed chunk and the last commit.
   */
  @Test
  void aKilledExecutorContainerEndsTheRunCleanly(MiniYarn yarn) throws Exception {
    int iterations = 4;
    Submission s = submit(yarn, "executor-killed", training(iterations, 1), Map.of());
    ApplicationAttemptReport first = s.awaitAttempt(yarn, 1);
    try (FileSystem fs = yarn.fs()) {
      s.awaitCommitted(fs, 1);
      ContainerReport executor = yarn.client().getContainers(first.getApplicationAttemptId())
          .stream().filter(c -> !c.getContainerId().equals(first.getAMContainerId()))
          .filter(c -> c.getContainerState() == ContainerState.RUNNING)
          .findFirst().orElseThrow(() -> new AssertionError("no running executor container; "
              + s.describe()));
      yarn.client().signalToContainer(executor.getContainerId(),
          SignalContainerCommand.FORCEFUL_SHUTDOWN);
      Map<Long, Long> beforeKill = commitTimes(fs, s.runDir());
      ApplicationReport report = s.awaitExit(yarn);
      assertEquals(YarnApplicationState.FINISHED, report.getYarnApplicationState(),
          s.describe());
      Map<Long, Long> after = commitTimes(fs, s.runDir());
      beforeKill.forEach((step, mtime) -> assertEquals(mtime, after.get(step),
          "commit of step " + step + " changed; " + s.describe()));
      if (report.getFinalApplicationStatus() == FinalApplicationStatus.SUCCEEDED) {
        assertEquals(range(1, iterations), List.copyOf(after.keySet()), s.describe());
        assertEquals(range(0, iterations - 1).stream().map(Long::intValue).toList(),
            iterations(fs, s.runDir()), s.describe());
      } else {
        assertEquals(FinalApplicationStatus.FAILED, report.getFinalApplicationStatus(),
            s.describe());
        assertTrue(report.getDiagnostics().contains("failed")
            && report.getDiagnostics().contains("last committed checkpoint is step"),
            "the report must say which chunk failed and where the run can resume; "
                + s.describe());
      }
    }
  }

  /**
   * (d) submit.sh's production default, one GPU per executor, on a YARN without the yarn.io/gpu
   * resource: every attempt fails before any executor container is allocated (the driver asks
   * YARN first, {@code YarnResources}), so "fast" is the ApplicationMasters' start-up only, and
   * YARN's report names the missing resource and the fix. Without the check, YARN hands out
   * executor containers anyway and each dies in GPU discovery until Spark's executor-failure
   * limit, per attempt, and the report does not mention GPUs.
   */
  @Test
  void aGpuSubmissionOnACpuOnlyClusterFailsBeforeAnyExecutorNamingTheResource(MiniYarn yarn)
      throws Exception {
    long containersBefore = yarn.containersAllocated();
    Submission s = submit(yarn, "gpu-on-cpu-cluster", training(2, 1),
        Map.of("SKIPPIPE_GPUS_PER_NODE", "1"));
    ApplicationReport report = s.awaitExit(yarn);
    assertEquals(FinalApplicationStatus.FAILED, report.getFinalApplicationStatus(),
        s.describe());
    assertTrue(report.getDiagnostics().contains(YarnResources.YARN_GPU)
        && report.getDiagnostics().contains("SKIPPIPE_GPUS_PER_NODE=0"), s.describe());
    int attempts = yarn.client().getApplicationAttempts(s.app).size();
    assertEquals(attempts, yarn.containersAllocated() - containersBefore,
        "containers beyond the " + attempts + " ApplicationMasters were allocated; "
            + s.describe());
    try (FileSystem fs = yarn.fs()) {
      assertEquals(List.of(), committedSteps(fs, s.runDir()), s.describe());
    }
  }

  private static void assertSucceeded(Submission s, ApplicationReport report) {
    assertEquals(YarnApplicationState.FINISHED, report.getYarnApplicationState(), s.describe());
    assertEquals(FinalApplicationStatus.SUCCEEDED, report.getFinalApplicationStatus(),
        s.describe());
    assertEquals(0, s.exitCode, "spark-submit follows the application and exits with its"
        + " status; " + s.describe());
  }

  /** submit.sh arguments for a run of {@code iterations} in chunks of {@code chunk}. */
  private static List<String> training(int iterations, int chunk) {
    return List.of(
        "--conf", "spark.skippipe.train.iterations=" + iterations,
        "--conf", "spark.skippipe.train.chunkIterations=" + chunk,
        // keep every commit, so the test can compare them before and after a fault
        "--conf", "spark.skippipe.checkpoint.keep=" + Math.max(2, iterations / chunk));
  }

  private static List<Long> range(long from, long to) {
    return java.util.stream.LongStream.rangeClosed(from, to).boxed().toList();
  }

  /** The committed steps of a run directory (step-N/_COMMITTED exists), ascending. */
  private static List<Long> committedSteps(FileSystem fs, String runDir) throws IOException {
    return List.copyOf(commitTimes(fs, runDir).keySet());
  }

  /** Committed step → the HDFS modification time of its _COMMITTED marker, ascending by step. */
  private static Map<Long, Long> commitTimes(FileSystem fs, String runDir) throws IOException {
    Map<Long, Long> out = new TreeMap<>();
    org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(runDir + "/checkpoints");
    if (!fs.exists(root)) {
      return out;
    }
    for (FileStatus st : fs.listStatus(root)) {
      String name = st.getPath().getName();
      org.apache.hadoop.fs.Path marker = new org.apache.hadoop.fs.Path(st.getPath(), "_COMMITTED");
      if (name.startsWith("step-") && fs.exists(marker)) {
        out.put(Long.parseLong(name.substring(5)), fs.getFileStatus(marker).getModificationTime());
      }
    }
    return out;
  }

  /** The iteration numbers of RUN_DIR/metrics/iterations.jsonl, in file order. */
  private static List<Integer> iterations(FileSystem fs, String runDir) throws IOException {
    List<Integer> out = new ArrayList<>();
    try (var in = fs.open(new org.apache.hadoop.fs.Path(runDir + "/metrics/iterations.jsonl"))) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.isBlank()) {
          out.add(com.fasterxml.jackson.databind.json.JsonMapper.builder().build()
              .readTree(line).get("iteration").asInt());
        }
      }
    }
    return out;
  }

  /**
   * What a small CPU-only YARN cluster changes against deploy/spark-defaults.conf: no GPUs, one
   * task slot per executor on 1 vcore, small containers, this machine's DJL cache, loopback only.
   */
  static List<String> tinyClusterArgs() {
    String djl = System.getProperty("DJL_CACHE_DIR", System.getProperty("user.home") + "/.djl.ai");
    String djlFlags = "-Dai.djl.offline=true -DDJL_CACHE_DIR=" + djl + " -DENGINE_CACHE_DIR=" + djl;
    List<String> a = new ArrayList<>();
    for (String c : List.of(
        "spark.executor.cores=1",
        "spark.task.cpus=1",
        "spark.executor.memory=512m",
        "spark.executor.memoryOverhead=768m",
        "spark.driver.memory=512m",
        "spark.driver.memoryOverhead=512m",
        "spark.executor.extraJavaOptions=" + djlFlags,
        "spark.driver.extraJavaOptions=" + djlFlags,
        "spark.executorEnv.DJL_CACHE_DIR=" + djl,
        "spark.yarn.appMasterEnv.DJL_CACHE_DIR=" + djl,
        "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
        "spark.yarn.appMasterEnv.SPARK_LOCAL_IP=127.0.0.1",
        "spark.ui.enabled=false")) {
      a.add("--conf");
      a.add(c);
    }
    return a;
  }

  /** {@code deploy/yarn/submit.sh RUN tinyClusterArgs extra}, started in the background. */
  private static Submission submit(MiniYarn yarn, String run, List<String> extra,
      Map<String, String> environment) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("bash",
        ROOT.resolve("deploy/yarn/submit.sh").toString(), run));
    cmd.addAll(tinyClusterArgs());
    cmd.addAll(extra);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Map<String, String> env = pb.environment();
    env.putAll(yarn.submitEnvironment());
    env.put("SKIPPIPE_SPARK_SUBMIT", yarn.sparkHome().resolve("bin/spark-submit").toString());
    env.put("SKIPPIPE_NODES", "3");
    env.put("SKIPPIPE_MODEL", work.resolve(MODEL).toString());
    env.put("SKIPPIPE_CLUSTER", work.resolve(CLUSTER).toString());
    env.put("SKIPPIPE_GPUS_PER_NODE", "0");
    env.putAll(environment);
    Path log = work.resolve(run + ".log");
    pb.redirectOutput(log.toFile());
    return new Submission(run, pb.start(), log);
  }

  /** A running submit.sh and, once YARN knows it, its application. */
  private static final class Submission {
    final String run;
    final Process process;
    final Path log;
    ApplicationId app;
    int exitCode = Integer.MIN_VALUE;
    ApplicationReport report;

    Submission(String run, Process process, Path log) {
      this.run = run;
      this.process = process;
      this.log = log;
    }

    /** Waits for spark-submit to exit (it follows the application), then reads YARN's report. */
    ApplicationReport awaitExit(MiniYarn yarn) throws Exception {
      if (!process.waitFor(APP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
        throw new AssertionError("submit.sh did not finish within " + APP_TIMEOUT_SECONDS
            + " s; " + describe());
      }
      exitCode = process.exitValue();
      app = application(yarn);
      report = yarn.client().getApplicationReport(app);
      return report;
    }

    /** HDFS path of the run directory (submit.sh's default: /skippipe/runs/RUN). */
    String runDir() {
      return "/skippipe/runs/" + run;
    }

    /** Waits until YARN runs attempt {@code n} of the application and returns its report. */
    ApplicationAttemptReport awaitAttempt(MiniYarn yarn, int n) throws Exception {
      long deadline = System.nanoTime() + APP_TIMEOUT_SECONDS * 1_000_000_000L;
      while (System.nanoTime() < deadline && process.isAlive()) {
        ApplicationId id = findApplication(yarn);
        if (id != null) {
          app = id;
          for (ApplicationAttemptReport a : yarn.client().getApplicationAttempts(id)) {
            if (a.getApplicationAttemptId().getAttemptId() == n
                && a.getYarnApplicationAttemptState() == YarnApplicationAttemptState.RUNNING) {
              return a;
            }
          }
        }
        Thread.sleep(500);
      }
      throw new AssertionError("attempt " + n + " never ran; " + describe());
    }

    /** Waits until step {@code step} is committed in the run directory. */
    void awaitCommitted(FileSystem fs, long step) throws Exception {
      org.apache.hadoop.fs.Path marker = new org.apache.hadoop.fs.Path(String.format(
          "%s/checkpoints/step-%06d/_COMMITTED", runDir(), step));
      long deadline = System.nanoTime() + APP_TIMEOUT_SECONDS * 1_000_000_000L;
      while (!fs.exists(marker)) {
        if (!process.isAlive() || System.nanoTime() > deadline) {
          throw new AssertionError("step " + step + " was never committed; " + describe());
        }
        Thread.sleep(200);
      }
    }

    private ApplicationId findApplication(MiniYarn yarn) throws Exception {
      for (ApplicationReport r : yarn.client().getApplications()) {
        if (r.getName().equals("skippipe-" + run)) {
          return r.getApplicationId();
        }
      }
      return null;
    }

    /** The application YARN registered under the name submit.sh gives it. */
    ApplicationId application(MiniYarn yarn) throws Exception {
      ApplicationId id = findApplication(yarn);
      if (id == null) {
        throw new AssertionError("YARN has no application skippipe-" + run + "; " + describe());
      }
      return id;
    }

    String describe() {
      return "run " + run + ", application " + app + ", exit code " + exitCode
          + (report == null ? "" : ", state " + report.getYarnApplicationState() + "/"
          + report.getFinalApplicationStatus() + ", diagnostics: " + report.getDiagnostics())
          + "; spark-submit log " + log;
    }
  }
}
