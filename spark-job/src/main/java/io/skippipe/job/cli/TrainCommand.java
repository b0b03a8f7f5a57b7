package io.skippipe.job.cli;

import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.Settings;
import io.skippipe.job.config.IgnoredSettings;
import io.skippipe.job.driver.Console;
import io.skippipe.job.driver.RunChecks;
import io.skippipe.job.driver.RunDirectory;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.scheduler.cli.ExitCodes;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe train}: the training job in this JVM. Without {@code --conf} it reads {@code
 * conf/local.properties} (the embedded default run: llama-tiny on the bundled corpus, local[12],
 * emulated laptop-geo-12 network). Later settings win: files in order, then {@code --set}. Any
 * {@code spark.*} key goes to Spark as well.
 */
@Command(name = "train", sortOptions = false, sortSynopsis = false,
    description = "Run the training job locally (spark.master defaults to local[12]); settings "
        + "are spark.skippipe.* keys, see docs/CONFIG.md.")
public final class TrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--conf", paramLabel = "FILE", order = 1,
      description = "A .properties file of settings; repeatable, later files win "
          + "(default: conf/local.properties, the embedded run).")
  List<Path> confFiles = new ArrayList<>();

  @Option(names = "--set", paramLabel = "KEY=VALUE", order = 2,
      description = "One setting, e.g. spark.skippipe.train.iterations=4; repeatable, wins over "
          + "files.")
  Map<String, String> sets = new LinkedHashMap<>();

  /** The embedded default run's settings file. */
  public static Path localProperties() {
    String home = System.getProperty("skippipe.home",
        System.getProperty("skippipe.repo.root", "."));
    return Paths.get(home, "conf", "local.properties");
  }

  /**
   * The settings of a {@code train} command line ({@code train} itself left out): the files (or
   * conf/local.properties), then the {@code --set} values. Throws picocli's ParameterException for a
   * malformed command line and IllegalArgumentException for a missing file.
   */
  public static Map<String, String> settings(String... args) throws IOException {
    TrainCommand t = new TrainCommand();
    new CommandLine(t).parseArgs(args);
    return t.settings();
  }

  Map<String, String> settings() throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    for (Path file : confFiles.isEmpty() ? List.of(localProperties()) : confFiles) {
      out.putAll(load(file));
    }
    sets.forEach((k, v) -> out.put(k.trim(), v.trim()));
    return out;
  }

  private static Map<String, String> load(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("settings file " + file.toAbsolutePath()
          + " does not exist; pass an existing .properties file to --conf");
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(file)) {
      p.load(in);
    }
    Map<String, String> m = new LinkedHashMap<>();
    for (String k : p.stringPropertyNames()) {
      m.put(k, p.getProperty(k));
    }
    return m;
  }

  @Override
  public Integer call() throws IOException {
    Map<String, String> settings = settings();
    Map<String, String> skippipe = new LinkedHashMap<>();
    settings.forEach((k, v) -> {
      if (k.startsWith("spark.skippipe.")) {
        skippipe.put(k, v);
      }
    });
    JobConfig cfg = JobConfig.from(Settings.of(skippipe));
    PrintWriter err = spec.commandLine().getErr();
    IgnoredSettings.of(skippipe).forEach(w -> err.println("skippipe train: warning: " + w));
    PrintStream out = SkipPipeCli.printStream(spec.commandLine().getOut());
    RunChecks.Checked checked = new Console(out).check(cfg,
        settings.getOrDefault("spark.master", "local[12]"), Map.of());
    if (checked.dir().start() == RunDirectory.Start.FINISHED) {
      SkipPipeJob.finished(checked.dir(), cfg, out);
      out.flush();
      return ExitCodes.OK;
    }
    SparkConf conf = new SparkConf().setAppName("skippipe-train");
    settings.forEach(conf::set);
    conf.setIfMissing("spark.master", "local[12]");
    if (conf.get("spark.master").startsWith("local")) {
      SparkSettings.local(conf);
    } else {
      SparkSettings.apply(conf);
    }
    Console.Phase start = new Console(out).begin("starting Spark " + conf.get("spark.master"));
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    start.done("Spark " + spark.version() + " ready, " + conf.get("spark.master"));
    try {
      SkipPipeJob.run(spark, cfg, Map.of(), out, checked);
      return ExitCodes.OK;
    } finally {
      out.flush();
      spark.stop();
    }
  }
}
