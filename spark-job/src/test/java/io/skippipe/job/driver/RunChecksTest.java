package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.IgnoredSettings;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad settings are refused at the edge, before Spark starts and before anything is written, each
 * with an error naming the key (issue 15): the examples users hit, one assertion each. Every case
 * here passed the old checks and failed later (in the optimizer, in a task, at the first commit,
 * or with a stack trace).
 */
class RunChecksTest {
  @TempDir Path tmp;

  Map<String, String> base() {
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", tmp.resolve("run").toString());
    m.put("spark.skippipe.train.iterations", "2");
    m.put("spark.skippipe.train.chunkIterations", "1");
    return m;
  }

  /** Asserts the settings are refused naming {@code key}, with nothing left in the run dir. */
  void refused(Map<String, String> settings, String key, String... fragments) throws Exception {
    Executable check = () -> RunChecks.check(JobConfig.parse(settings), "local[12]", Map.of());
    ConfigException e = assertThrows(ConfigException.class, check, settings.toString());
    assertEquals(key, e.key(), e.getMessage());
    assertTrue(e.getMessage().contains("Fix:"), e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "'" + f + "' missing in: " + e.getMessage());
    }
    Path run = Path.of(settings.get("spark.skippipe.run.dir"));
    if (Files.isDirectory(run)) {
      try (Stream<Path> files = Files.list(run)) {
        List<Path> left = files.filter(p -> !p.getFileName().toString().startsWith("."))
            .toList();
        assertEquals(List.of(), left, "a refused run wrote into its run directory");
      }
    }
  }

  Map<String, String> with(String... kv) {
    Map<String, String> m = base();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void theDefaultsPassAndWriteNothing() throws Exception {
    RunChecks.Checked c = RunChecks.check(JobConfig.parse(base()), "local[12]", Map.of());
    assertEquals(RunDirectory.Start.FRESH, c.dir().start());
    assertNotNull(c.planned());
    assertFalse(Files.exists(tmp.resolve("run")), "the write probe and the directory it needed"
        + " are removed");
  }

  @Test
  void runDirectoriesThatCannotBeWritten() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    refused(with("spark.skippipe.run.dir", file.resolve("run").toString()),
        "spark.skippipe.run.dir", "is a file");
    refused(with("spark.skippipe.run.dir", "nosuchfs://bucket/run"), "spark.skippipe.run.dir",
        "scheme 'nosuchfs'");
    // /proc refuses new directories even to root (CI runs as root, so a chmod would not do)
    refused(with("spark.skippipe.checkpoint.dir", "/proc/skippipe-checkpoints"),
        "spark.skippipe.checkpoint.dir", "cannot be written");
  }

  @Test
  void filesTheSettingsNameMustExistAndParse() throws Exception {
    refused(with("spark.skippipe.plan.file", tmp.resolve("missing.json").toString()),
        "spark.skippipe.plan.file", "does not exist");
    Path garbage = Files.writeString(tmp.resolve("plan.json"), "{not json");
    refused(with("spark.skippipe.plan.file", garbage.toString()), "spark.skippipe.plan.file");
    refused(with("spark.skippipe.data.input", tmp.resolve("missing.txt").toString()),
        "spark.skippipe.data.input");
    refused(with("spark.skippipe.data.tokenizer", garbage.toString()),
        "spark.skippipe.data.tokenizer");
  }

  /** A Hadoop glob is a valid data.input: java.net.URI rejects '{', the check used to as well. */
  @Test
  void inputGlobsAreAcceptedAsTheReaderReadsThem() throws Exception {
    String text = "The quick brown fox jumps over the lazy dog.\n".repeat(50);
    Files.writeString(tmp.resolve("a.txt"), text);
    Files.writeString(tmp.resolve("b.txt"), text);
    Files.writeString(tmp.resolve("c.md"), text);
    for (String glob : List.of(tmp + "/{a,b}.txt", tmp + "/*.txt", tmp.toUri() + "{a,b}.txt")) {
      RunChecks.Checked c = RunChecks.check(JobConfig.parse(with("spark.skippipe.data.input",
          glob)), "local[12]", Map.of());
      assertEquals(2, c.data().files().size(), glob + ": " + c.data().files());
    }
    refused(with("spark.skippipe.data.input", tmp + "/{x,y}.txt"), "spark.skippipe.data.input",
        "does not exist");
    refused(with("spark.skippipe.data.input", "::not a uri::"), "spark.skippipe.data.input",
        "is not a valid path, URI or glob");
  }

  @Test
  void rangesMatchWhatTheConsumersNeed() throws Exception {
    // each passed the old range check and failed inside the optimizer or the transfer
    refused(with("spark.skippipe.train.learningRate", "0"), "spark.skippipe.train.learningRate");
    refused(with("spark.skippipe.train.epsilon", "0"), "spark.skippipe.train.epsilon");
    refused(with("spark.skippipe.transfer.maxFrameBytes", "0"),
        "spark.skippipe.transfer.maxFrameBytes");
    refused(with("spark.skippipe.transfer.readTimeoutMs", "2"),
        "spark.skippipe.transfer.readTimeoutMs");
  }

  @Test
  void theFrameLimitMustHoldThePlansLargestMessage() throws Exception {
    // llama-tiny on laptop-geo-12: an activation is 4 x 64 x 64 x 4 bytes = 64 KiB, but stage 0's
    // gradient (embedding + head + 2 layers, fp32) split over its 2 replicas is larger
    refused(with("spark.skippipe.transfer.maxFrameBytes", "4096"),
        "spark.skippipe.transfer.maxFrameBytes", "gradient all-reduce segment");
    refused(with("spark.skippipe.transfer.maxFrameBytes", "65535", "spark.skippipe.plan.method",
        "dtfm"), "spark.skippipe.transfer.maxFrameBytes");
  }

  @Test
  void settingsThatCannotWorkInSpark() throws Exception {
    refused(with("spark.skippipe.transfer.bindHost", "192.0.2.1"),
        "spark.skippipe.transfer.bindHost", "not an address of this machine");
    ConfigException e = assertThrows(ConfigException.class, () -> RunChecks.check(
        JobConfig.parse(with("spark.skippipe.transfer.bindHost", "127.0.0.1")), "yarn",
        Map.of()));
    assertEquals("spark.skippipe.transfer.bindHost", e.key());
  }

  @Test
  void plannerRejectionsNameThePlannerKey() throws Exception {
    // laptop-geo-12 has 6 stages
    refused(with("spark.skippipe.plan.pathLength", "9"), "spark.skippipe.plan.pathLength",
        "path length 9");
    // (a model whose layers do not split into the cluster's stages is fitted: RunModelTest)
  }

  @Test
  void aGivenPlanIsValidated() throws Exception {
    Path plan = Files.writeString(tmp.resolve("p.json"),
        PlanCodec.toJsonString(TestPlans.skippipe()));
    RunChecks.Checked ok = RunChecks.check(JobConfig.parse(with("spark.skippipe.plan.file",
        plan.toString())), "local[6]", Map.of());
    assertTrue(ok.planned().plan().iterationSeconds() > 0, "the plan is simulated");
    // a path that visits a stage twice breaks a hard rule
    var p = TestPlans.skippipe();
    var mbs = new java.util.ArrayList<>(p.microbatches());
    mbs.set(0, new PlannedMicrobatch(0, 0, 0.0, List.of(0, 2, 5, 2)));
    String broken = PlanCodec.toJsonString(new Plan(p.format(), p.method(), p.seed(), p.cluster(),
        p.model(), p.constraints(), p.stages(), mbs, null));
    refused(with("spark.skippipe.plan.file", Files.writeString(tmp.resolve("bad.json"), broken)
        .toString()), "spark.skippipe.plan.file");
  }

  /** The hand-written plans the runtime tests use pass the hard rules (caps may only warn). */
  @Test
  void theTestPlansAreValidPlans() {
    for (var plan : List.of(TestPlans.skippipe(), TestPlans.busy(), TestPlans.dtfm())) {
      List<String> w = JobPlanning.validate(plan, "test", plan.method()).warnings();
      assertTrue(w.stream().allMatch(x -> x.contains("throughput cap")), w.toString());
    }
  }

  @Test
  void ignoredSettingsAreNamed() {
    List<String> w = IgnoredSettings.of(Map.of("spark.skippipe.plan.pathLength", "3",
        "spark.skippipe.plan.skipRatio", "0.5", "spark.skippipe.network.mode", "direct",
        "spark.skippipe.network.timeScale", "3"));
    assertEquals(2, w.size(), w.toString());
    assertTrue(w.get(0).startsWith("spark.skippipe.plan.skipRatio=0.5 is ignored because of"
        + " spark.skippipe.plan.pathLength=3"), w.get(0));
    assertTrue(w.get(1).startsWith("spark.skippipe.network.timeScale=3 is ignored"), w.get(1));
    assertEquals(List.of(), IgnoredSettings.of(Map.of("spark.skippipe.plan.skipRatio", "0.5")));
  }
}
