package io.skippipe.job.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.data.InputFiles;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.profile.ModelSpec;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Every check that may refuse a run, before any Spark work starts and before anything is written
 * (a probe file in a writable directory is written and deleted at once): the run and checkpoint
 * locations, the files the settings name, the block transfer's settings, the run directory's
 * lifecycle ({@link RunDirectory}), the plan (planned and validated here, so planner rejections
 * name their key), the plan against the transfer's frame limit, and the training input
 * ({@link DataPrep#check}). Each failure is a {@link ConfigException}: key, value, rule, fix.
 */
public final class RunChecks {
  private static final ObjectMapper JSON = new ObjectMapper();

  private RunChecks() {}

  /**
   * What the checks found, for the run to use.
   *
   * @param planned the validated plan; null with {@code network.mode=probe} (it is planned on the
   *     measured network) or for a finished run
   * @param data the checked input and tokenizer; null for a finished run
   */
  public record Checked(RunDirectory dir, JobPlanning.PlannedRun planned, DataPrep.Checked data) {}

  /**
   * Runs the checks.
   *
   * @param master the Spark master the run will use ({@code local[N]}, {@code yarn}, ...)
   * @throws ConfigException for a setting the run cannot work with
   */
  public static Checked check(JobConfig cfg, String master, Map<String, String> hadoop)
      throws IOException {
    Configuration conf = HadoopConfs.current(hadoop);
    return check(cfg, master, conf, c -> JobPlanning.plan(c, uri -> read(uri, conf)));
  }

  /**
   * Runs the checks with the given planner (the job's is {@link JobPlanning#plan}; a test may
   * memoise it, planning being a pure function of the settings).
   */
  public static Checked check(JobConfig cfg, String master, Configuration conf,
      java.util.function.Function<JobConfig, JobPlanning.PlannedRun> planner) throws IOException {
    writableDirectory(ConfigKeys.RUN_DIR, cfg.runDir(), conf);
    if (!cfg.checkpoint().dir().isEmpty()) {
      writableDirectory(ConfigKeys.CHECKPOINT_DIR, cfg.checkpoint().dir(), conf);
    }
    if (!cfg.plan().planFile().isEmpty()) {
      existingFile(ConfigKeys.PLAN_FILE, cfg.plan().planFile(), conf);
    }
    transfer(cfg, master);
    ModelSpec model = JobPlanning.modelSpec(cfg, uri -> read(uri, conf));
    try {
      Models.llama(model); // the model's own rules (heads, kv heads, dims), not only the planner's
    } catch (IllegalArgumentException e) {
      throw new ConfigException(ConfigKeys.MODEL.name(), cfg.model(), e.getMessage(),
          "correct the model spec");
    }
    RunDirectory dir = RunDirectory.inspect(cfg, modelShape(model), conf);
    if (dir.start() == RunDirectory.Start.FINISHED) {
      return new Checked(dir, null, null);
    }
    JobPlanning.PlannedRun planned = null;
    if (!cfg.network().mode().equals("probe")) {
      planned = planner.apply(cfg);
      frames(cfg, planned.plan());
    }
    String input = cfg.data().input();
    if (!input.isEmpty()) { // a glob, read as the reader reads it; its files: DataPrep.check
      Path pattern;
      try {
        pattern = InputFiles.inputPath(input);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(ConfigKeys.DATA_INPUT.name(), input, "is not a valid path, URI"
            + " or glob (" + e.getMessage() + ")", "write a local path or a Hadoop URI, with"
            + " globs such as hdfs:///data/part-*.jsonl or /data/{train,extra}.txt");
      }
      fileSystem(ConfigKeys.DATA_INPUT, input, pattern, conf);
    }
    if (!cfg.data().tokenizer().isEmpty()) {
      existingFile(ConfigKeys.DATA_TOKENIZER, cfg.data().tokenizer(), conf);
    }
    DataPrep.Checked data = DataPrep.check(cfg, conf, model.vocab());
    return new Checked(dir, planned, data);
  }

  /** What a run's checkpoints must agree on to be resumed: the shapes of the weights. */
  public static JsonNode modelShape(ModelSpec m) {
    ObjectNode o = JSON.createObjectNode();
    o.put("dim", m.dim()).put("layers", m.layers()).put("heads", m.heads())
        .put("kvHeads", m.kvHeads()).put("ffnDim", m.ffnDim()).put("vocab", m.vocab())
        .put("layersPerStage", m.layersPerStage());
    return o;
  }

  /**
   * A directory the run can write: a known filesystem, no file in the way, and a probe file that
   * can be created and deleted. Directories the probe had to create are deleted with it.
   */
  static void writableDirectory(ConfigKeys.Key key, String uri, Configuration conf) {
    Path dir = path(key, uri);
    FileSystem fs = fileSystem(key, uri, dir, conf);
    try {
      for (Path p = dir; p != null; p = p.getParent()) {
        FileStatus st;
        try {
          st = fs.getFileStatus(p);
        } catch (FileNotFoundException e) {
          continue;
        }
        if (!st.isDirectory()) {
          throw new ConfigException(key.name(), uri, p + " is a file, not a directory",
              "choose a directory path (or move the file away)");
        }
        break;
      }
      // the top-most directory the probe creates: removed again, so a refused run leaves no trace
      Path created = null;
      for (Path p = dir; p != null && !fs.exists(p); p = p.getParent()) {
        created = p;
      }
      Path probe = new Path(dir, ".skippipe-write-check-" + UUID.randomUUID());
      fs.mkdirs(dir);
      try (OutputStream out = fs.create(probe, false)) {
        out.write('x');
      }
      fs.delete(created != null ? created : probe, created != null);
    } catch (IOException e) {
      throw new ConfigException(key.name(), uri, "cannot be written (" + e.getMessage() + ")",
          "give the job's user write access, or choose another location");
    }
  }

  /** A file that exists (a plan, an input, a tokenizer). */
  static void existingFile(ConfigKeys.Key key, String uri, Configuration conf) {
    Path p = path(key, uri);
    FileSystem fs = fileSystem(key, uri, p, conf);
    try {
      if (!fs.getFileStatus(p).isFile()) {
        throw new ConfigException(key.name(), uri, "is a directory, not a file",
            "name the file itself");
      }
    } catch (FileNotFoundException e) {
      throw new ConfigException(key.name(), uri, "does not exist", "give an existing file");
    } catch (IOException e) {
      throw new ConfigException(key.name(), uri, "cannot be read (" + e.getMessage() + ")",
          "check the path and the job's access to it");
    }
  }

  private static Path path(ConfigKeys.Key key, String uri) {
    try {
      return new Path(HadoopConfs.toUri(uri));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key.name(), uri, "is not a valid path or URI (" + e.getMessage()
          + ")", "write a local path or a URI such as hdfs:///runs/r1 or s3a://bucket/runs/r1");
    }
  }

  private static FileSystem fileSystem(ConfigKeys.Key key, String uri, Path p,
      Configuration conf) {
    try {
      return p.getFileSystem(conf);
    } catch (IOException | RuntimeException e) {
      URI u = p.toUri();
      throw new ConfigException(key.name(), uri, "no filesystem serves scheme '" + u.getScheme()
          + "' (" + e.getMessage() + ")", "use file://, hdfs:// or s3a:// (or a local path);"
          + " another scheme needs its filesystem on the class path and fs." + u.getScheme()
          + ".impl set");
    }
  }

  /** Transfer settings that cannot work where the run goes. */
  static void transfer(JobConfig cfg, String master) {
    String host = cfg.transfer().bindHost();
    if (host.isEmpty()) {
      return;
    }
    String key = ConfigKeys.TRANSFER_BIND_HOST.name();
    if (!master.startsWith("local")) {
      throw new ConfigException(key, host, "one address cannot serve the executors of a cluster"
          + " master (" + master + "): every executor binds on its own machine",
          "leave it empty (each executor binds the host Spark knows it by; SPARK_LOCAL_IP on a"
              + " machine chooses its interface)");
    }
    InetAddress a;
    try {
      a = InetAddress.getByName(host);
    } catch (UnknownHostException e) {
      throw new ConfigException(key, host, "does not resolve", "give an IP address or host name"
          + " of this machine, or leave it empty");
    }
    try {
      if (!a.isAnyLocalAddress() && NetworkInterface.getByInetAddress(a) == null) {
        throw new ConfigException(key, host, "is " + a.getHostAddress() + ", not an address of"
            + " this machine (" + master + " runs every task here)", "give one of this machine's"
            + " addresses (e.g. 127.0.0.1), or leave it empty");
      }
    } catch (java.net.SocketException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The largest message of the plan must fit {@code transfer.maxFrameBytes}: an activation (or its
   * gradient) of one microbatch, and a ring all-reduce segment (a stage's fp32 gradient split over
   * its replicas).
   */
  static void frames(JobConfig cfg, Plan plan) {
    ModelSpec m = plan.model();
    long largest = m.activationBytesPerMicrobatch();
    String what = "an activation of one microbatch";
    for (int s = 0; s < plan.stages().size(); s++) {
      int n = plan.stages().get(s).size();
      if (n > 1) {
        long segment = (m.gradientBytesOfStage(s) + n - 1) / n;
        if (segment > largest) {
          largest = segment;
          what = "stage " + s + "'s gradient all-reduce segment (" + n + " replicas)";
        }
      }
    }
    int limit = cfg.transfer().maxFrameBytes();
    if (largest > limit) {
      throw new ConfigException(ConfigKeys.TRANSFER_MAX_FRAME_BYTES.name(), "" + limit,
          "the plan's largest message, " + what + ", is " + largest + " bytes",
          "raise it to at least " + largest);
    }
  }

  private static byte[] read(String uri, Configuration conf) {
    Path p = new Path(HadoopConfs.toUri(uri));
    try (InputStream in = p.getFileSystem(conf).open(p)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + uri, e);
    }
  }
}
