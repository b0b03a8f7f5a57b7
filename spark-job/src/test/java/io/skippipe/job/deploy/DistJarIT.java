package io.skippipe.job.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged spark-submit jar (run after {@code package}, in {@code mvn verify}): it carries our
 * modules, DJL with its linux-x86_64 CPU natives, hadoop-aws and the AWS SDK modules S3A needs, and
 * no class that the cluster's Spark/Hadoop jars already have; {@code bin/skippipe} runs from it.
 */
class DistJarIT {
  private static final Path ROOT = Paths.get(System.getProperty("skippipe.repo.root", ".."))
      .toAbsolutePath().normalize();
  static final Path TARGET = ROOT.resolve("spark-job/target");
  /** Guard against Spark or Hadoop slipping back in (they would add ~300 MB); measured 136.5 MB. */
  private static final long MAX_BYTES = 160L * 1000 * 1000;

  private static Path jar;
  private static Set<String> entries;

  @BeforeAll
  static void open() throws IOException {
    jar = TARGET.resolve(DeployArtifactsTest.distJarName());
    assertTrue(Files.isRegularFile(jar), jar + " missing: run mvn package first");
    entries = new HashSet<>();
    try (JarFile j = new JarFile(jar.toFile())) {
      j.stream().map(ZipEntry::getName).forEach(entries::add);
    }
    System.out.printf("dist jar %s: %d bytes, %d entries%n", jar.getFileName(), Files.size(jar),
        entries.size());
  }

  @Test
  void carriesOurModulesDjlAndS3a() throws IOException {
    for (String e : List.of(
        "io/skippipe/job/cli/SkipPipeCli.class",
        "io/skippipe/job/metrics/SkipPipeMetricsPlugin.class",
        "io/skippipe/scheduler/cli/PlanCommand.class",
        "io/skippipe/model/bench/StageThroughputBench.class",
        "picocli/CommandLine.class",
        "ai/djl/engine/Engine.class",
        "ai/djl/pytorch/engine/PtEngineProvider.class",
        "ai/djl/huggingface/tokenizers/HuggingFaceTokenizer.class",
        "native/lib/pytorch.properties",
        "jnilib/linux-x86_64/cpu/libdjl_torch.so",
        "native/lib/linux-x86_64/cpu/libtokenizers.so",
        "org/apache/hadoop/fs/s3a/S3AFileSystem.class",
        "software/amazon/awssdk/services/s3/S3Client.class",
        "software/amazon/awssdk/transfer/s3/model/ObjectTransfer.class")) {
      assertTrue(entries.contains(e), jar.getFileName() + " lacks " + e);
    }
    assertTrue(entries.stream().anyMatch(e -> e.startsWith("pytorch/cpu/linux-x86_64/")
        && e.contains("libtorch_cpu.so")), "libtorch_cpu.so missing");
    try (JarFile j = new JarFile(jar.toFile())) {
      // DJL finds its engine through ServiceLoader: the shaded services file must still list it.
      ZipEntry services = j.getEntry("META-INF/services/ai.djl.engine.EngineProvider");
      try (InputStream in = j.getInputStream(services)) {
        assertTrue(new String(in.readAllBytes(), StandardCharsets.UTF_8)
            .contains("ai.djl.pytorch.engine.PtEngineProvider"));
      }
      assertEquals("io.skippipe.job.cli.SkipPipeCli",
          j.getManifest().getMainAttributes().getValue("Main-Class"));
    }
    assertTrue(Files.size(jar) < MAX_BYTES, "dist jar is " + Files.size(jar) + " bytes");
  }

  @Test
  void leavesOutWhatTheClusterProvidesAndOtherPlatformsNatives() throws IOException {
    for (String prefix : List.of("org/apache/spark/", "scala/", "org/apache/hadoop/hdfs/",
        "io/netty/", "com/fasterxml/jackson/core/", "com/google/protobuf/", "org/slf4j/",
        "jnilib/win-", "jnilib/osx-", "native/lib/win-", "native/lib/osx-")) {
      assertTrue(entries.stream().noneMatch(e -> e.startsWith(prefix)),
          jar.getFileName() + " must not contain " + prefix + "*");
    }
    // No class of ours may shadow (or be shadowed by) one the provided jars already have.
    Map<String, Integer> overlapByJar = new TreeMap<>();
    for (Path provided : launcherClasspath()) {
      if (!provided.toString().endsWith(".jar")) {
        continue;
      }
      try (JarFile j = new JarFile(provided.toFile())) {
        j.stream().map(ZipEntry::getName)
            .filter(n -> n.endsWith(".class") && !n.endsWith("module-info.class"))
            .filter(entries::contains)
            .forEach(n -> overlapByJar.merge(provided.getFileName().toString(), 1, Integer::sum));
      }
    }
    assertTrue(overlapByJar.isEmpty(), "classes both in the dist jar and in provided jars: "
        + overlapByJar);
  }

  @Test
  void launcherRunsFromTheDistJar() throws Exception {
    Path launcher = ROOT.resolve("bin/skippipe");
    String launcherText = Files.readString(launcher);
    assertTrue(launcherText.contains(DeployArtifactsTest.distJarName()),
        "bin/skippipe must run " + DeployArtifactsTest.distJarName());
    ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "--help")
        .redirectErrorStream(true);
    pb.environment().put("SKIPPIPE_NO_BUILD", "1");
    pb.environment().put("SKIPPIPE_JAVA_OPTS", "-Xmx256m");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("Usage: skippipe") && out.contains("bin/skippipe train"), out);
  }

  /** The Spark/Hadoop jars bin/skippipe adds: the two classpath files written at package time. */
  static List<Path> launcherClasspath() throws IOException {
    List<Path> out = new ArrayList<>();
    for (String file : List.of("provided-classpath.txt", "spark-shipped-classpath.txt")) {
      Path f = TARGET.resolve(file);
      assertTrue(Files.isRegularFile(f), f + " missing: run mvn package first");
      for (String p : Files.readString(f).trim().split(java.io.File.pathSeparator)) {
        if (!p.isBlank()) {
          out.add(Paths.get(p));
        }
      }
    }
    return out;
  }
}
