package io.skippipe.job.config;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.cli.SkipPipeCli;
import io.skippipe.job.cli.TrainCommand;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The defaults file, the parser's validation and its messages. */
class ConfigKeysTest {
  static Path repo() {
    return Paths.get(System.getProperty("skippipe.repo.root", ".."));
  }

  @Test
  void defaultsFileListsExactlyTheKeysWithTheirDefaults() throws Exception {
    Path file = repo().resolve("conf/skippipe-defaults.properties");
    assertEquals(DefaultsFile.render(), Files.readString(file),
        "conf/skippipe-defaults.properties is out of date: regenerate it with DefaultsFile");
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(file)) {
      p.load(in);
    }
    assertEquals(ConfigKeys.all().size(), p.size());
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      assertEquals(k.defaultValue(), p.getProperty(k.name()), k.name());
    }
  }

  @Test
  void defaultsParseAndTheEmbeddedRunFileIsValid() throws Exception {
    JobConfig d = JobConfig.parse(Map.of());
    assertEquals("runs/local", d.runDir());
    assertEquals("runs/local/checkpoints", d.checkpointRoot());
    assertEquals(2, d.checkpoint().keep());
    assertNull(d.failAt());
    System.setProperty("skippipe.home", repo().toString());
    Map<String, String> local = TrainCommand.settings(new String[0]);
    assertEquals("local[12]", local.get("spark.master"));
    Map<String, String> sk = new HashMap<>();
    local.forEach((k, v) -> {
      if (k.startsWith("spark.skippipe.")) {
        sk.put(k, v);
      }
    });
    JobConfig cfg = JobConfig.parse(sk);
    assertEquals("laptop-geo-12", cfg.cluster());
    assertTrue(cfg.network().emulated());
    Map<String, String> over = TrainCommand.settings(
        new String[] {"--set", "spark.skippipe.train.iterations=9"});
    assertEquals("9", over.get("spark.skippipe.train.iterations"));
  }

  @Test
  void errorsNameKeyValueRuleAndFix() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.train.iterations", "many")));
    assertEquals("spark.skippipe.train.iterations", e.key());
    assertTrue(e.getMessage().contains("'many'") && e.getMessage().contains("integer")
        && e.getMessage().contains("Fix:"), e.getMessage());

    e = assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.checkpoint.keep", "1")));
    assertTrue(e.getMessage().contains("between 2"), e.getMessage());

    e = assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.plan.method", "magic")));
    assertTrue(e.getMessage().contains("skippipe | skippipe-no-tc2 | dtfm-skip | dtfm"),
        e.getMessage());

    e = assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.train.iteratons", "3")));
    assertTrue(e.getMessage().contains("did you mean spark.skippipe.train.iterations"),
        e.getMessage());

    e = assertThrows(ConfigException.class, () -> JobConfig.parse(Map.of(
        "spark.skippipe.train.iterations", "2", "spark.skippipe.train.chunkIterations", "3")));
    assertEquals("spark.skippipe.train.chunkIterations", e.key());

    e = assertThrows(ConfigException.class, () -> JobConfig.parse(Map.of(
        "spark.skippipe.transfer.heartbeatMs", "5000",
        "spark.skippipe.transfer.readTimeoutMs", "4000")));
    assertEquals("spark.skippipe.transfer.heartbeatMs", e.key());

    e = assertThrows(ConfigException.class,
        () -> JobConfig.parse(Map.of("spark.skippipe.test.failAt", "1:x")));
    assertTrue(e.getMessage().contains("chunk:iteration:node"), e.getMessage());

    assertEquals(new JobConfig.FailureHook(1, 3, 2),
        JobConfig.parse(Map.of("spark.skippipe.test.failAt", "1:3:2")).failAt());
  }

  @Test
  void badTrainArgumentsAreUserErrors() {
    String[][] bad = {{"--set", "novalue"}, {"--conf", "/nonexistent.properties"}, {"--bogus"},
        {"--set", "spark.skippipe.seed=abc"}};
    String[] named = {"novalue", "/nonexistent.properties", "--bogus", "spark.skippipe.seed"};
    for (int i = 0; i < bad.length; i++) {
      java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
      String[] args = new String[bad[i].length + 1];
      args[0] = "train";
      System.arraycopy(bad[i], 0, args, 1, bad[i].length);
      int code = SkipPipeCli.run(args, System.out, new java.io.PrintStream(err));
      assertEquals(2, code, err.toString());
      assertTrue(err.toString().contains(named[i]) && !err.toString().contains("\tat "),
          err.toString());
    }
  }

  @Test
  void learningRateScheduleKeys() {
    JobConfig.TrainSettings constant = JobConfig.parse(Map.of()).train();
    assertEquals(0, constant.warmupIterations());
    assertEquals(constant.learningRate(), constant.minLearningRate());
    for (int it = 0; it < constant.iterations(); it++) {
      assertEquals(constant.learningRate(), constant.lrSchedule().lr(it), 0.0, "default: constant");
    }
    JobConfig.TrainSettings t = JobConfig.parse(Map.of("spark.skippipe.train.iterations", "10",
        "spark.skippipe.train.chunkIterations", "5", "spark.skippipe.train.learningRate", "0.01",
        "spark.skippipe.train.warmupIterations", "2",
        "spark.skippipe.train.minLearningRate", "0.001")).train();
    // warmup 0.005, 0.01; then cosine from 0.01 over 8 steps toward 0.001 (independent formula)
    assertEquals(0.005, t.lrSchedule().lr(0), 1e-15);
    assertEquals(0.01, t.lrSchedule().lr(2), 1e-15);
    assertEquals(0.001 + 0.009 * 0.5 * (1 + Math.cos(Math.PI * 4 / 8.0)), t.lrSchedule().lr(6),
        1e-15);
    ConfigException e = assertThrows(ConfigException.class, () -> JobConfig.parse(Map.of(
        "spark.skippipe.train.warmupIterations", "6")));
    assertEquals("spark.skippipe.train.warmupIterations", e.key());
    e = assertThrows(ConfigException.class, () -> JobConfig.parse(Map.of(
        "spark.skippipe.train.minLearningRate", "0.5")));
    assertEquals("spark.skippipe.train.minLearningRate", e.key());
    assertTrue(e.getMessage().contains("Fix:"), e.getMessage());
  }
}
