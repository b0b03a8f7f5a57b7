package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.cli.SkipPipeCli;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.PlanCodec;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The run directory's whole lifecycle through the real launcher entry point ({@code
 * bin/skippipe train} = {@link SkipPipeCli}) in separate JVMs, with a real process kill: bad
 * settings are refused (exit 2, the key named, no stack trace, no directory created) → run →
 * driver killed (SIGKILL) mid-run → the same command again resumes → resubmitting the finished run
 * is a no-op → a non-resuming run into the directory is refused (exit 2, nothing touched) →
 * overwrite starts a new lineage. At every point {@code iterations.jsonl} has exactly one row per
 * committed iteration and the newest commit belongs to the lineage in {@code run.json}.
 */
class RunLifecycleTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ITERATIONS = 6;

  @Test
  void killResumeFinishRefuseOverwrite() throws Exception {
    Path dir = new File("target/lifecycle/run-" + System.nanoTime()).getAbsoluteFile().toPath();
    Files.createDirectories(dir.getParent());
    Path plan = dir.resolveSibling(dir.getFileName() + "-plan.json");
    Files.writeString(plan, PlanCodec.toJsonString(TestPlans.skippipe()));
    Path props = dir.resolveSibling(dir.getFileName() + ".properties");
    Files.writeString(props, String.join("\n",
        "spark.master=local[6]",
        "spark.ui.enabled=false",
        "spark.skippipe.run.dir=" + dir,
        "spark.skippipe.plan.file=" + plan,
        "spark.skippipe.network.mode=emulated",
        // toy links of 5-20 ms x 6: an iteration takes about a second here, so the kill below lands
        // inside a chunk rather than after the run
        "spark.skippipe.network.timeScale=6",
        "spark.skippipe.train.iterations=" + ITERATIONS,
        "spark.skippipe.train.chunkIterations=2",
        "spark.skippipe.transfer.readTimeoutMs=60000", ""));

    // 0. bad settings through the launcher: exit 2 naming the key, no stack trace, and the run
    // directory is not even created (each is one kind of issue 15's list)
    String[][] bad = {
        {"spark.skippipe.train.learningRate", "0"},
        {"spark.skippipe.data.input", dir + "-no-such-input.txt"},
        {"spark.skippipe.transfer.bindHost", "192.0.2.1"},
        {"spark.skippipe.checkpoint.dir", props + "/checkpoints"},
        {"spark.skippipe.transfer.maxFrameBytes", "1024"}};
    for (String[] kv : bad) {
      Result r = run(props, "--set", kv[0] + "=" + kv[1]);
      assertEquals(2, r.code, kv[0] + ": " + r.out);
      assertTrue(r.out.contains(kv[0]), "the message names " + kv[0] + ": " + r.out);
      assertFalse(r.out.contains("\tat "), "no stack trace for " + kv[0] + ": " + r.out);
      assertFalse(Files.exists(dir), kv[0] + " left " + dir + " behind");
    }

    // 1. run, killed with SIGKILL as soon as the first chunk is committed
    Launched first = launch(props);
    Process p = first.process();
    Path firstCommit = dir.resolve("checkpoints/step-000002/_COMMITTED");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (!Files.exists(firstCommit) && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(Files.exists(firstCommit), "the first chunk never committed: " + first.output());
    p.destroyForcibly(); // SIGKILL: no shutdown hook, no finally block runs
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    long killedAt = newestCommit(dir).step();
    assertTrue(killedAt < ITERATIONS, "the kill came after the run finished; slow the run down");
    // the rows are the completed iterations: up to the commit, or up to the end of a chunk that
    // completed but was killed before its commit (a resume replaces those rows)
    List<Integer> rows = rows(dir);
    assertTrue(rows.equals(upTo(killedAt)) || rows.equals(upTo(killedAt + 2)), "after the kill"
        + " at commit " + killedAt + ": " + rows);
    String lineage = lineage(dir);

    // 2. the same command again resumes from the newest commit and finishes
    Result resumed = run(props);
    assertEquals(0, resumed.code, resumed.out);
    assertTrue(resumed.out.contains("resuming run " + lineage + " from its commit at step "
        + killedAt), resumed.out);
    assertEquals(ITERATIONS, newestCommit(dir).step());
    assertEquals(lineage, lineage(dir), "a resume continues the lineage");
    consistent(dir);
    Map<String, byte[]> finished = snapshot(dir);

    // 3. resubmitting the finished run (an Airflow/YARN retry) is a successful no-op
    Result again = run(props);
    assertEquals(0, again.code, again.out);
    assertTrue(again.out.contains("already finished"), again.out);
    assertSameFiles(finished, snapshot(dir), "a no-op resubmission");

    // 4. a non-resuming run into the directory is refused, naming the way out; nothing changes
    Files.writeString(props, Files.readString(props) + "spark.skippipe.checkpoint.resume=false\n");
    Result refused = run(props);
    assertEquals(2, refused.code, refused.out);
    assertTrue(refused.out.contains("spark.skippipe.run.overwrite=true"), refused.out);
    assertFalse(refused.out.contains("\tat "), "no stack trace for a refusal: " + refused.out);
    assertSameFiles(finished, snapshot(dir), "a refused run");

    // 5. overwrite: the old run is removed first, a new lineage trains from step 0
    Files.writeString(props, Files.readString(props) + "spark.skippipe.run.overwrite=true\n");
    Result fresh = run(props);
    assertEquals(0, fresh.code, fresh.out);
    assertNotEquals(lineage, lineage(dir));
    assertEquals(ITERATIONS, newestCommit(dir).step());
    consistent(dir);
  }

  /** iterations.jsonl = one row per iteration up to the newest commit of run.json's lineage. */
  private static void consistent(Path dir) throws Exception {
    Commit newest = newestCommit(dir);
    assertEquals(lineage(dir), newest.lineage(), "the newest commit is the current lineage's");
    assertEquals(upTo(newest.step()), rows(dir), "iterations.jsonl after the commit at step "
        + newest.step());
  }

  private static List<Integer> rows(Path dir) throws Exception {
    List<Integer> rows = new ArrayList<>();
    Path f = dir.resolve(MetricsLog.ITERATIONS);
    if (Files.exists(f)) {
      for (String line : Files.readAllLines(f)) {
        rows.add(JSON.readTree(line).get("iteration").asInt());
      }
    }
    return rows;
  }

  private static List<Integer> upTo(long n) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(i);
    }
    return out;
  }

  private static Commit newestCommit(Path dir) throws Exception {
    CheckpointStore store = new HadoopCheckpointStore(dir.resolve("checkpoints").toString(),
        HadoopConfs.current());
    return store.latest(null).orElseThrow();
  }

  private static String lineage(Path dir) throws Exception {
    JsonNode run = JSON.readTree(dir.resolve(RunDirectory.RUN_JSON).toFile());
    return run.get("lineage").asText();
  }

  /** Every file of the run directory with its bytes. */
  private static Map<String, byte[]> snapshot(Path dir) throws Exception {
    Map<String, byte[]> out = new TreeMap<>();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        out.put(dir.relativize(f).toString(), Files.readAllBytes(f));
      }
    }
    return out;
  }

  private static void assertSameFiles(Map<String, byte[]> a, Map<String, byte[]> b, String what) {
    assertEquals(a.keySet(), b.keySet(), what + " added or removed files");
    a.forEach((k, v) -> assertArrayEquals(v, b.get(k), what + " changed " + k));
  }

  private record Result(int code, String out) {}

  /** A launcher JVM and the file its output goes to. */
  private record Launched(Process process, Path log) {
    String output() throws Exception {
      return Files.readString(log, StandardCharsets.UTF_8);
    }
  }

  private static Launched launch(Path props, String... more) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx2g");
    // the JVM flags Surefire gave this test JVM (Spark's --add-opens, DJL's cache and offline mode)
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-D") || a.startsWith("-XX:+Ignore")) {
        cmd.add(a);
      }
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(SkipPipeCli.class.getName());
    cmd.add("train");
    cmd.add("--conf");
    cmd.add(props.toString());
    cmd.addAll(List.of(more));
    Path log = props.resolveSibling(props.getFileName() + "-" + System.nanoTime() + ".log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
        .start();
    return new Launched(p, log);
  }

  private static Result run(Path props, String... more) throws Exception {
    Launched l = launch(props, more);
    assertTrue(l.process().waitFor(6, TimeUnit.MINUTES), "the launcher did not finish in 6"
        + " minutes: " + l.output());
    return new Result(l.process().exitValue(), l.output());
  }
}
