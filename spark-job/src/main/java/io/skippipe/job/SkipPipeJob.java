package io.skippipe.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.IgnoredSettings;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.Settings;
import io.skippipe.job.deploy.YarnResources;
import io.skippipe.job.driver.ChunkedTraining;
import io.skippipe.job.driver.Console;
import io.skippipe.job.driver.DataPrep;
import io.skippipe.job.driver.JobPlanning;
import io.skippipe.job.driver.MetricsLog;
import io.skippipe.job.driver.ProbeProfile;
import io.skippipe.job.driver.RunChecks;
import io.skippipe.job.driver.RunDirectory;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.eval.TrainingEval;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.job.driver.ExecutorRoster;
import io.skippipe.job.task.peer.NetworkProbe;
import io.skippipe.job.task.peer.Rendezvous;
import io.skippipe.job.task.peer.SlotAddress;
import io.skippipe.job.task.role.ExecutorSlots;
import io.skippipe.job.task.chunk.DevicePlacement;
import io.skippipe.job.task.chunk.ModelInit;
import io.skippipe.job.trace.RunTrace;
import io.skippipe.job.transfer.TransferSecurity;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.ProfileJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * The SkipPipe training job (spark-submit main class): config → data → rendezvous → plan → train
 * in chunks → report. Each phase is one call; DESIGN.md §6 describes them.
 */
public final class SkipPipeJob {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SkipPipeJob.class);

  private SkipPipeJob() {}

  /**
   * What a run produced; {@code planHash} is the first plan's, {@code attempts} every chunk
   * attempt (with re-plans, recoveries and failures) and {@code finalPlanHash} the last plan's.
   */
  public record Summary(String runDir, String planHash, long firstStep, long lastStep,
      int failedAttempts, List<RunMetrics.IterationRow> iterations,
      double predictedIterationSeconds, String checkpoint,
      List<ChunkedTraining.AttemptRecord> attempts, String finalPlanHash) {}

  /** spark-submit entry point: settings come from the SparkConf ({@code --conf spark.skippipe.*}). */
  public static void main(String[] args) {
    SparkConf conf = SparkSettings.apply(new SparkConf());
    // On YARN, before any container is requested: the GPUs asked for exist. Thrown, not exit(2):
    // in cluster mode YARN's report then carries the message (an exit would replace it).
    YarnResources.checkGpus(conf, SparkHadoopUtil.get().newConfiguration(conf));
    JobConfig cfg;
    RunChecks.Checked checked;
    try {
      Map<String, String> given = skippipeKeys(conf);
      cfg = JobConfig.from(Settings.of(given));
      IgnoredSettings.of(given).forEach(w -> LOG.warn(w));
      // no SparkEnv yet: the checks see the submission's spark.hadoop.* (S3 keys, HDFS settings)
      Map<String, String> all = new HashMap<>();
      for (Tuple2<String, String> t : conf.getAll()) {
        all.put(t._1(), t._2());
      }
      checked = new Console(System.out).check(cfg, conf.get("spark.master", ""),
          HadoopConfs.sparkHadoopKeys(all));
    } catch (ConfigException e) {
      refuse(conf, e);
      return;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (checked.dir().start() == RunDirectory.Start.FINISHED) {
      finished(checked.dir(), cfg, System.out);
      return;
    }
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    ConfigException refused = null;
    try {
      run(spark, cfg, Map.of(), System.out, checked);
    } catch (ConfigException e) { // found once Spark runs (slots): nothing was written yet
      refused = e;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      spark.stop();
    }
    if (refused != null) {
      refuse(conf, refused);
    }
  }

  /**
   * Ends the driver for a bad setting: the message without a stack trace and exit code 2 — except
   * in cluster deploy mode, where the driver runs inside the cluster (YARN's ApplicationMaster) and
   * an exit would replace the message in the application report with "shutdown hook called before
   * final status was reported": there the exception itself is the report.
   */
  private static void refuse(SparkConf conf, ConfigException e) {
    if ("cluster".equals(conf.get("spark.submit.deployMode", "client"))) {
      throw e;
    }
    System.err.println("skippipe: " + e.getMessage());
    System.exit(2);
  }

  /** The spark.skippipe.* entries of a SparkConf. */
  public static Map<String, String> skippipeKeys(SparkConf conf) {
    Map<String, String> m = new HashMap<>();
    for (Tuple2<String, String> t : conf.getAll()) {
      if (t._1().startsWith("spark.skippipe.")) {
        m.put(t._1(), t._2());
      }
    }
    return m;
  }

  /** Runs the job on a session; {@code hadoop} adds Hadoop keys (tests), normally empty. */
  public static Summary run(SparkSession spark, JobConfig cfg, Map<String, String> hadoop,
      PrintStream out) throws IOException {
    return run(spark, cfg, hadoop, out, new Console(out).check(cfg,
        spark.sparkContext().master(), hadoop));
  }

  /** Runs the job on a session, given what {@link RunChecks#check} found. */
  public static Summary run(SparkSession spark, JobConfig cfg, Map<String, String> hadoop,
      PrintStream out, RunChecks.Checked checked) throws IOException {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Console console = new Console(out);
    Console.quietKnownWarnings();
    TransferSecurity.report(jsc.getConf(), cfg.transfer(), out);
    Configuration conf = HadoopConfs.current(hadoop);
    RunDirectory dir = checked.dir();
    if (dir.start() == RunDirectory.Start.FINISHED) {
      return finished(dir, cfg, out);
    }
    JobPlanning.PlannedRun planned = checked.planned();
    int nodes = planned != null ? planned.plan().liveNodes().size()
        : JobPlanning.cluster(cfg).size();
    List<ExecutorRoster.Executor> roster = checkSlots(jsc, cfg, nodes, planned == null, out);
    DevicePlacement.checkExecutors(jsc, cfg.compute().device(), nodes)
        .forEach(l -> out.println("device: " + l));
    String network = network(cfg, planned);
    // the run directory holds this run from here on (every refusing check has passed)
    dir.begin();
    RunTrace.writeNetwork(dir.fs(), dir.path(), cfg); // the timeline's time scale
    String run = "run-" + UUID.randomUUID();
    byte[] secret = secret(cfg);
    long startStep = dir.resumeFrom().map(Commit::step).orElse(0L);
    MetricsLog log = new MetricsLog(dir.fs(), dir.path());
    RunMetrics metrics;
    ChunkedTraining.Outcome outcome;
    try {
      Probed probed = probe(jsc, cfg, run, secret, conf, out);
      if (probed != null) {
        Console.Phase planning = console.planning(cfg, true);
        planned = JobPlanning.plan(cfg, probed.profile(), uri -> read(uri, conf));
        console.planned(planning, planned.plan());
      }
      Plan plan = planned.plan();
      TrainingEval eval = TrainingEval.create(cfg, ModelInit.llama(cfg, plan.model(), conf), hadoop,
          out);
      record(cfg, planned, conf);
      planned.warnings().forEach(out::println);
      Console.Phase prep = console.begin("preparing data from " + (cfg.data().input().isEmpty()
          ? "the bundled corpus" : cfg.data().input()));
      DataPrep.Result data = DataPrep.prepare(spark, cfg, plan.dataNodes(),
          plan.model().seqLen(), plan.model().vocab(), hadoop);
      prep.done(data.summary());
      Map<Integer, String> shards = data.shards();
      Map<Integer, String> preferred = new HashMap<>();
      List<SlotAddress> probedSlots = probed == null ? List.of() : probed.result().nodes();
      for (int node = 0; node < probedSlots.size(); node++) {
        preferred.put(node, probedSlots.get(node).key()); // the probe measured node i on slot i
      }
      ChunkedTraining.RunSetup setup = new ChunkedTraining.RunSetup(run,
          dir.identity().lineage(), dir.resumeFrom(), dir.identity().originMicros(),
          planned.plan(), planned.json(), planned.hash(), preferred, secret, cfg,
          cfg.transfer().resolve(jsc.master()), cfg.checkpointRoot(), cfg.runDir(), shards,
          hadoop, network != null ? network
              : ProfileJson.toJson(planned.plan().cluster()).toString());
      console.rendezvousDone(console.begin("rendezvous of " + ExecutorRoster.slots(roster)
          + " task slots"), ExecutorRoster.now(jsc));
      long tokens = (long) plan.microbatches().size() * plan.model().samplesPerMicrobatch()
          * plan.model().seqLen();
      metrics = new RunMetrics(cfg.train().iterations(), cfg.train().chunkIterations(),
          tokens, out, cfg.progress(), log.resumeAt(startStep), log);
      if (startStep > 0) {
        out.printf("resuming run %s from its commit at step %d%n", dir.identity().lineage(),
            startStep);
      }
      Console.Chunks chunks = console.training(startStep, cfg.train().iterations(),
          cfg.train().chunkIterations());
      RunMetrics m = metrics;
      outcome = ChunkedTraining.train(jsc, setup, dir.store(), results -> {
        m.afterChunk(results);
        chunks.completed(results);
      }, eval::afterCommit);
    } finally {
      ExecutorSlots.close(run); // local mode: the driver JVM holds the slots
    }
    Summary s = new Summary(cfg.runDir(), planned.hash(), outcome.firstStep(), outcome.lastStep(),
        outcome.failedAttempts(), metrics.rows(), planned.plan().iterationSeconds(),
        dir.store().root() + "/" + CheckpointStore.stepDir(outcome.lastStep()),
        outcome.attempts(), outcome.planHash());
    report(s, cfg, out);
    try {
      console.timeline(RunTrace.writePage(dir.fs(), dir.path()).toString(), cfg.runDir());
    } catch (IOException | RuntimeException e) {
      console.say("timeline not written (" + e + "); bin/skippipe timeline " + cfg.runDir()
          + " --out FILE draws it");
    }
    return s;
  }

  /** A resubmitted run that already reached train.iterations: a successful no-op. */
  public static Summary finished(RunDirectory dir, JobConfig cfg, PrintStream out) {
    long step = dir.resumeFrom().orElseThrow().step();
    String checkpoint = dir.store().root() + "/" + CheckpointStore.stepDir(step);
    out.printf("run %s in %s already finished: its newest commit is step %d (%s=%d); nothing to"
        + " do. Raise %s to train further, or set %s=true to start over.%n",
        dir.identity().lineage(), cfg.runDir(), step, ConfigKeys.TRAIN_ITERATIONS.name(),
        cfg.train().iterations(), ConfigKeys.TRAIN_ITERATIONS.name(),
        ConfigKeys.RUN_OVERWRITE.name());
    return new Summary(cfg.runDir(), dir.resumeFrom().get().planHash(), step, step, 0,
        List.of(), Double.NaN, checkpoint, List.of(), dir.resumeFrom().get().planHash());
  }


  /**
   * Counts the task slots of the executors registered now (waiting up to
   * {@code elastic.replacementWaitMs} for {@code nodes}); refuses the run below
   * {@code elastic.minNodes}, or below {@code nodes} when every node must be there (the probe);
   * returns the registered executors.
   */
  private static List<ExecutorRoster.Executor> checkSlots(JavaSparkContext jsc, JobConfig cfg,
      int nodes, boolean all, PrintStream out) {
    List<ExecutorRoster.Executor> roster = ExecutorRoster.await(jsc, nodes,
        cfg.elastic().replacementWaitMillis());
    int slots = ExecutorRoster.slots(roster);
    int need = all ? nodes : Math.min(nodes, cfg.elastic().minNodes());
    if (slots < need) {
      throw new ConfigException("spark.master", jsc.master(), "the plan has " + nodes
          + " nodes and Spark offers " + slots + " task slots on " + roster.size()
          + " registered executors after waiting " + cfg.elastic().replacementWaitMillis()
          + " ms (" + ConfigKeys.ELASTIC_REPLACEMENT_WAIT_MS.name() + "); " + (all
          ? "network.mode=probe measures every node" : ConfigKeys.ELASTIC_MIN_NODES.name() + "="
          + cfg.elastic().minNodes()), "use local[" + nodes + "] or executors x cores /"
          + " spark.task.cpus >= " + nodes + ", wait longer for executors, or lower "
          + ConfigKeys.ELASTIC_MIN_NODES.name());
    }
    if (slots < nodes) {
      out.printf("Spark offers %d task slots for the plan's %d nodes: training on %d, the plan"
          + " grows when executors register (%s=%d)%n", slots, nodes, slots,
          ConfigKeys.ELASTIC_MIN_NODES.name(), cfg.elastic().minNodes());
    }
    return roster;
  }

  /**
   * The network the emulation reproduces ({@code network.emulatedProfile}) as JSON, or null for
   * the planning profile.
   */
  private static String network(JobConfig cfg, JobPlanning.PlannedRun planned) {
    String name = cfg.elastic().emulatedProfile();
    if (name.isEmpty()) {
      return null;
    }
    ClusterProfile p;
    try {
      p = io.skippipe.scheduler.profile.Presets.cluster(name);
    } catch (RuntimeException e) {
      throw new ConfigException(ConfigKeys.NETWORK_EMULATED_PROFILE.name(), name, e.getMessage(),
          "name a preset under conf/clusters or a cluster profile JSON file");
    }
    int nodes = planned != null ? planned.plan().nodeCount() : JobPlanning.cluster(cfg).size();
    if (p.size() != nodes) {
      throw new ConfigException(ConfigKeys.NETWORK_EMULATED_PROFILE.name(), name, "has "
          + p.size() + " nodes, the run plans on " + nodes + " (node i of the plan stands on node"
          + " i of the emulated network)", "give a profile with " + nodes + " nodes");
    }
    return ProfileJson.toJson(p).toString();
  }

  /** The rendezvous with its all-pairs probe and the measured profile (probe mode only). */
  private record Probed(Rendezvous.Result result, ClusterProfile profile) {}

  /**
   * With network.mode=probe: runs the rendezvous with the all-pairs probe on as many slots as the
   * configured profile has nodes, builds the measured profile and writes RUN_DIR/profile.json.
   * Returns null in the other modes (their rendezvous runs after data preparation).
   */
  private static Probed probe(JavaSparkContext jsc, JobConfig cfg, String run, byte[] secret,
      Configuration conf, PrintStream out) throws IOException {
    if (!cfg.network().mode().equals("probe")) {
      return null;
    }
    if (!cfg.plan().planFile().isEmpty()) {
      throw new ConfigException(ConfigKeys.NETWORK_MODE.name(), "probe", "cannot be combined with "
          + ConfigKeys.PLAN_FILE.name() + "=" + cfg.plan().planFile() + ": the probe measures the"
          + " network to plan on it, and a given plan.json was planned on another profile",
          "drop plan.file to plan on the measured network, or use network.mode=direct with it");
    }
    if (cfg.network().probeBytes() > cfg.transfer().maxFrameBytes()) {
      throw new ConfigException(ConfigKeys.NETWORK_PROBE_BYTES.name(),
          "" + cfg.network().probeBytes(), "must not exceed "
          + ConfigKeys.TRANSFER_MAX_FRAME_BYTES.name() + "=" + cfg.transfer().maxFrameBytes()
          + " (the receiver drops larger frames)", "lower probeBytes or raise maxFrameBytes");
    }
    ClusterProfile base = JobPlanning.cluster(cfg);
    int need = 2 * base.size() - 1; // per peer one request and one FINISHED, plus one answer
    if (cfg.transfer().queueCapacity() < need) {
      throw new ConfigException(ConfigKeys.TRANSFER_QUEUE_CAPACITY.name(),
          "" + cfg.transfer().queueCapacity(), "network.mode=probe on " + base.size()
          + " nodes needs at least " + need + " (a full inbox could stall two nodes sending bulk"
          + " probes to each other)", "set it to " + need + " or more");
    }
    long start = System.nanoTime();
    Rendezvous.Result r = Rendezvous.run(jsc, base.size(), run, cfg.transfer(), secret,
        new NetworkProbe.Settings(cfg.network().probePings(), cfg.network().probePingBytes(),
            cfg.network().probeBytes(), cfg.network().probeTimeoutMillis()));
    ClusterProfile profile = ProbeProfile.build(base, r.nodes(), r.probe());
    write(cfg.runDir() + "/profile.json", ProfileJson.toJson(profile).toPrettyString() + "\n",
        conf);
    out.printf("network probe: %d nodes, all pairs, rendezvous + probe %.2f s; measured profile"
        + " %s/profile.json (plan on it: bin/skippipe plan --cluster %s/profile.json)%n",
        base.size(), (System.nanoTime() - start) / 1e9, cfg.runDir(), cfg.runDir());
    return new Probed(r, profile);
  }

  private static byte[] secret(JobConfig cfg) {
    if (!cfg.runSecret().isEmpty()) {
      return cfg.runSecret().getBytes(StandardCharsets.UTF_8);
    }
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return b;
  }

  private static void report(Summary s, JobConfig cfg, PrintStream out) {
    out.println();
    out.println("SkipPipe run " + s.runDir() + " (plan " + s.planHash().substring(0, 12) + ")");
    StringBuilder curve = new StringBuilder();
    for (RunMetrics.IterationRow r : s.iterations()) {
      curve.append(String.format(" %.3f", r.loss()));
    }
    out.println("  loss by iteration:" + curve);
    double measured = s.iterations().stream().skip(Math.min(1, s.iterations().size() - 1))
        .mapToDouble(RunMetrics.IterationRow::seconds).average().orElse(Double.NaN);
    double scale = cfg.network().emulated() ? cfg.network().timeScale() : 1.0;
    out.printf("  iteration time: measured %.3f s (mean, first excluded), predicted %.3f s"
            + " (simulator) x time scale %.3g = %.3f s%n", measured,
        s.predictedIterationSeconds(), scale, s.predictedIterationSeconds() * scale);
    out.println("  steps " + s.firstStep() + " -> " + s.lastStep() + ", failed chunk attempts "
        + s.failedAttempts());
    out.println("  checkpoint: " + s.checkpoint());
    out.println("  metrics: " + s.runDir() + "/" + MetricsLog.ITERATIONS + ", trace: "
        + s.runDir() + "/" + MetricsLog.TRACE_DIR + "/");
  }

  private static byte[] read(String uri, Configuration conf) {
    Path p = new Path(HadoopConfs.toUri(uri));
    try (InputStream in = p.getFileSystem(conf).open(p)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + uri, e);
    }
  }

  /**
   * Records the plan the run follows in the run directory: RUN_DIR/plan.json, and with
   * {@code plan.skipRatio=auto} the tuner's report RUN_DIR/tune.json (frontier and choice).
   */
  public static void record(JobConfig cfg, JobPlanning.PlannedRun planned, Configuration conf)
      throws IOException {
    write(cfg.runDir() + "/plan.json", planned.json(), conf);
    if (planned.tuneJson() != null) {
      write(cfg.runDir() + "/tune.json", planned.tuneJson(), conf);
    }
  }

  private static void write(String uri, String text, Configuration conf) throws IOException {
    Path p = new Path(HadoopConfs.toUri(uri));
    try (OutputStream o = p.getFileSystem(conf).create(p, true)) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }
}
