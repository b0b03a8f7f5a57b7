package io.skippipe.job.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.testing.MiniHdfs;
import io.skippipe.job.testing.MotoS3;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Submits the packaged dist jar through Spark's real submit path ({@code
 * org.apache.spark.deploy.SparkSubmit} in a separate JVM, stack-probe §6.2) to {@code
 * local-cluster[2,1,1024]}: two executor JVMs that get our classes only from the dist jar and Spark
 * only from a {@code SPARK_HOME/jars} made of the provided jars, as on a cluster. The job is {@link
 * Preflight}: DJL's engine loads from the jar in each executor and each writes to HDFS (a
 * MiniDFSCluster) and to S3A (moto).
 */
class SparkSubmitSmokeIT {
  private static final Path ROOT = Paths.get(System.getProperty("skippipe.repo.root", ".."))
      .toAbsolutePath().normalize();
  private static final Path TARGET = ROOT.resolve("spark-job/target");
  private static Path sparkHome;

  /** A Spark "distribution" for SparkSubmit and the local-cluster workers: jars/ only. */
  @BeforeAll
  static void sparkHome() throws IOException {
    sparkHome = TARGET.resolve("submit-spark-home");
    Path jars = Files.createDirectories(sparkHome.resolve("jars"));
    for (Path jar : DistJarIT.launcherClasspath()) {
      Path link = jars.resolve(jar.getFileName());
      if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        Files.createSymbolicLink(link, jar);
      }
    }
    // Workers copy the app jar per executor into work/ (stack-probe pitfall 25): start empty.
    deleteTree(sparkHome.resolve("work"));
  }

  /**
   * One submission (a local-cluster start costs 20 s to minutes on a busy 2-core machine) checks
   * both storage routes: every task writes to the MiniDFSCluster and to S3A.
   */
  @Test
  void preflightOnLocalClusterWritesToHdfsAndS3a() throws Exception {
    try (MiniHdfs hdfs = MiniHdfs.start(); MotoS3 s3 = MotoS3.start()) {
      s3.createBucket("smoke");
      List<String> conf = new ArrayList<>();
      s3.hadoopConf().forEach((k, v) -> conf.add("spark.hadoop." + k + "=" + v));
      String hdfsRunDir = hdfs.uri() + "/runs/preflight";
      String s3RunDir = "s3a://smoke/runs/preflight";
      Result r = submit(conf, Preflight.class.getName(), "2", hdfsRunDir, s3RunDir);
      assertEquals(0, r.exitCode, r.output);
      assertTrue(r.output.contains("PREFLIGHT OK 2 executors"), r.output);
      assertTwoExecutorsWrote(URI.create(hdfsRunDir), new Configuration(), r.output);
      Configuration s3conf = new Configuration();
      s3.hadoopConf().forEach(s3conf::set);
      assertTwoExecutorsWrote(URI.create(s3RunDir), s3conf, r.output);
    }
  }

  /**
   * The training job itself through SparkSubmit: two chunks of the tiny model on 12 task slots in
   * two executor JVMs, training text read from HDFS, the run directory (plan, checkpoints, metrics)
   * on S3A. Done = the last step's _COMMITTED marker exists, as the Airflow sensor expects.
   */
  @Test
  void trainsTwoChunksReadingHdfsAndCommittingToS3a() throws Exception {
    try (MiniHdfs hdfs = MiniHdfs.start(); MotoS3 s3 = MotoS3.start()) {
      s3.createBucket("runs");
      String input = hdfs.uri() + "/data/train.txt";
      FileSystem hfs = FileSystem.newInstance(URI.create(hdfs.uri()), new Configuration());
      try (var out = hfs.create(new org.apache.hadoop.fs.Path(input))) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 400; i++) {
          text.append("In the beginning the nodes of stage ").append(i % 6)
              .append(" passed activations to each other over slow links.\n");
        }
        out.write(text.toString().getBytes(StandardCharsets.UTF_8));
      } finally {
        hfs.close();
      }
      List<String> conf = new ArrayList<>();
      s3.hadoopConf().forEach((k, v) -> conf.add("spark.hadoop." + k + "=" + v));
      String runDir = "s3a://runs/smoke";
      conf.addAll(List.of(
          "spark.skippipe.run.dir=" + runDir,
          "spark.skippipe.data.input=" + input,
          "spark.skippipe.data.format=text",
          "spark.skippipe.model=llama-tiny",
          "spark.skippipe.cluster=laptop-geo-12",
          "spark.skippipe.network.mode=direct",
          "spark.skippipe.train.iterations=2",
          "spark.skippipe.train.chunkIterations=1",
          "spark.skippipe.metrics.progress=true",
          "spark.plugins=io.skippipe.job.metrics.SkipPipeMetricsPlugin"));
      // laptop-geo-12 has 12 nodes: 2 executor JVMs x 6 task slots. SkipPipeJob checks the slots
      // with defaultParallelism, which counts only executors registered so far unless set.
      conf.add("spark.default.parallelism=12");
      Result r = submitTo("local-cluster[2,6,2048]", conf, "io.skippipe.job.SkipPipeJob");
      assertEquals(0, r.exitCode, r.output);
      // Two healthy chunks need no retry; a retried chunk means a task failed (the log says why).
      assertTrue(r.full.contains("failed chunk attempts 0"), "a chunk failed and was retried from"
          + " the last commit; see " + r.log + "\n" + r.output);
      Configuration s3conf = new Configuration();
      s3.hadoopConf().forEach(s3conf::set);
      try (FileSystem fs = FileSystem.newInstance(URI.create(runDir), s3conf)) {
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path(runDir + "/plan.json")), r.output);
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path(
            runDir + "/checkpoints/step-000002/_COMMITTED")), r.output);
      }
    }
  }

  private static void assertTwoExecutorsWrote(URI runDir, Configuration conf, String output)
      throws IOException {
    FileSystem fs = FileSystem.newInstance(runDir, conf);
    try {
      org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(runDir + "/preflight");
      TreeSet<String> names = new TreeSet<>();
      TreeSet<String> executors = new TreeSet<>();
      for (FileStatus st : fs.listStatus(dir)) {
        names.add(st.getPath().getName());
        if (st.getPath().getName().startsWith("task-")) {
          try (var in = fs.open(st.getPath())) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            executors.add(text.substring(0, text.indexOf(' ')));
            assertTrue(text.contains("engine=PyTorch"), text);
          }
        }
      }
      assertEquals(new TreeSet<>(List.of("_PREFLIGHT_OK", "task-0.txt", "task-1.txt")), names);
      // Two separate executor JVMs, not the driver: local-cluster numbers them 0 and 1.
      assertEquals(new TreeSet<>(List.of("executor=0", "executor=1")), executors, output);
    } finally {
      fs.close();
    }
  }

  /** Exit code, the interesting part of the log (for messages), the whole log and its path. */
  private record Result(int exitCode, String output, String full, Path log) {}

  /** {@code spark-submit --master local-cluster[2,1,1024] [--conf ...] --class C dist.jar args}. */
  private static Result submit(List<String> conf, String mainClass, String... args)
      throws Exception {
    return submitTo("local-cluster[2,1,1024]", conf, mainClass, args);
  }

  /** {@code spark-submit --master MASTER [--conf ...] --class C dist.jar args}. */
  private static Result submitTo(String master, List<String> conf, String mainClass,
      String... args) throws Exception {
    String djl = System.getProperty("DJL_CACHE_DIR", System.getProperty("user.home") + "/.djl.ai");
    String djlFlags = "-Dai.djl.offline=true -DDJL_CACHE_DIR=" + djl + " -DENGINE_CACHE_DIR=" + djl;
    List<String> cmd = new ArrayList<>();
    cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx1g");
    // The JVM flags Spark needs on Java 17 (the surefire argLine's module flags), for the driver;
    // the workers add them to the executors themselves.
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-XX:+IgnoreUnrecognized")
          || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty")) {
        cmd.add(a);
      }
    }
    cmd.addAll(List.of(djlFlags.split(" ")));
    cmd.addAll(List.of("-cp", sparkHome.resolve("jars") + File.separator + "*",
        "org.apache.spark.deploy.SparkSubmit",
        "--master", master,
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.scheduler.barrier.maxConcurrentTasksCheck.interval=1s",
        "--conf", "spark.executor.extraJavaOptions=" + djlFlags,
        "--conf", "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
        "--conf", "spark.executorEnv.OMP_NUM_THREADS=1"));
    for (String c : conf) {
      cmd.addAll(List.of("--conf", c));
    }
    cmd.addAll(List.of("--class", mainClass, TARGET.resolve(DeployArtifactsTest.distJarName())
        .toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Map<String, String> env = pb.environment();
    env.put("SPARK_HOME", sparkHome.toString());
    env.put("SPARK_SCALA_VERSION", "2.13");
    env.put("SPARK_LOCAL_IP", "127.0.0.1");
    env.put("DJL_CACHE_DIR", djl);
    Path log = Files.createTempFile(TARGET, "spark-submit-", ".log");
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    if (!p.waitFor(480, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      return new Result(-1, "timed out after 480 s; log " + log + "\n" + tail(log),
          Files.readString(log), log);
    }
    return new Result(p.exitValue(), tail(log), Files.readString(log), log);
  }

  /** The PREFLIGHT lines and the last 80 lines of a log (Spark's INFO output is long). */
  private static String tail(Path log) throws IOException {
    List<String> lines = Files.readAllLines(log);
    StringBuilder b = new StringBuilder();
    lines.stream().filter(l -> l.startsWith("PREFLIGHT") || l.startsWith("[skippipe]")
            || l.contains("Exception"))
        .forEach(l -> b.append(l).append('\n'));
    lines.subList(Math.max(0, lines.size() - 80), lines.size())
        .forEach(l -> b.append(l).append('\n'));
    return b.toString();
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
