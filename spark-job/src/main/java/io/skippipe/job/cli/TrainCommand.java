package io.skippipe.job.cli;

import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.Settings;
import io.skippipe.job.config.IgnoredSettings;
import io.skippipe.job.driver.RunChecks;
import io.skippipe.job.driver.RunDirectory;
import io.skippipe.job.spark.SparkSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/skippipe train [--conf file.properties ...] [--set key=value ...]}: the job in this
 * JVM. Without {@code --conf} it reads {@code conf/local.properties} (the embedded default run:
 * llama-tiny on the bundled corpus, local[12], emulated laptop-geo-12 network). Later settings win:
 * files in order, then {@code --set}. Any {@code spark.*} key goes to Spark as well.
 */
public final class TrainCommand {
  private TrainCommand() {}

  /** The embedded default run's settings file. */
  public static Path localProperties() {
    String home = System.getProperty("skippipe.home",
        System.getProperty("skippipe.repo.root", "."));
    return Paths.get(home, "conf", "local.properties");
  }

  /** Parses arguments into settings; throws IllegalArgumentException on bad usage. */
  public static Map<String, String> settings(String[] args) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    boolean sawConf = false;
    Map<String, String> sets = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if ((a.equals("--conf") || a.equals("--set")) && i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value: --conf FILE or --set key=value");
      }
      if (a.equals("--conf")) {
        sawConf = true;
        out.putAll(load(Paths.get(args[++i])));
      } else if (a.equals("--set")) {
        String kv = args[++i];
        int eq = kv.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--set '" + kv + "' must be key=value, e.g. --set"
              + " spark.skippipe.train.iterations=4");
        }
        sets.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
      } else {
        throw new IllegalArgumentException("unknown train option '" + a + "'; use --conf FILE"
            + " or --set key=value");
      }
    }
    if (!sawConf) {
      Map<String, String> defaults = load(localProperties());
      defaults.putAll(out);
      out = defaults;
    }
    out.putAll(sets);
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

  /** Runs the command; returns the exit code (0 ok, 2 bad input, 1 failure). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Map<String, String> settings;
    JobConfig cfg;
    RunChecks.Checked checked;
    try {
      settings = settings(args);
      Map<String, String> skippipe = new LinkedHashMap<>();
      settings.forEach((k, v) -> {
        if (k.startsWith("spark.skippipe.")) {
          skippipe.put(k, v);
        }
      });
      cfg = JobConfig.from(Settings.of(skippipe));
      IgnoredSettings.of(skippipe).forEach(w -> err.println("skippipe train: warning: " + w));
      checked = RunChecks.check(cfg, settings.getOrDefault("spark.master", "local[12]"),
          Map.of());
    } catch (IllegalArgumentException e) {
      err.println("skippipe train: " + e.getMessage());
      return 2;
    } catch (IOException e) {
      err.println("skippipe train failed: " + e);
      return 1;
    }
    if (checked.dir().start() == RunDirectory.Start.FINISHED) {
      SkipPipeJob.finished(checked.dir(), cfg, out);
      return 0;
    }
    SparkConf conf = new SparkConf().setAppName("skippipe-train");
    settings.forEach(conf::set);
    conf.setIfMissing("spark.master", "local[12]");
    if (conf.get("spark.master").startsWith("local")) {
      SparkSettings.local(conf);
    } else {
      SparkSettings.apply(conf);
    }
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    try {
      SkipPipeJob.run(spark, cfg, Map.of(), out, checked);
      return 0;
    } catch (ConfigException e) {
      err.println("skippipe train: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      err.println("skippipe train failed: " + e);
      e.printStackTrace(err);
      return 1;
    } finally {
      spark.stop();
    }
  }
}
