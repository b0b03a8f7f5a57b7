package io.skippipe.job.config;

import static io.skippipe.job.config.ConfigKeys.*;

import java.io.Serializable;
import java.util.Map;

/**
 * The validated configuration of one training run, parsed once from {@code spark.skippipe.*}.
 *
 * <p>Each nested record checks its own fields in its compact constructor; cross-field rules are
 * checked in {@link #JobConfig}. Nothing below {@code SkipPipeJob.main} sees raw keys.
 */
public record JobConfig(
    String runDir,
    boolean overwrite,
    String runSecret,
    long seed,
    String model,
    ModelSettings modelSettings,
    String cluster,
    PlanSettings plan,
    NetworkSettings network,
    DataSettings data,
    TrainSettings train,
    CheckpointSettings checkpoint,
    TransferConfig transfer,
    ComputeSettings compute,
    boolean progress,
    FailureHook failAt,
    ElasticSettings elastic,
    EvalSettings eval)
    implements Serializable {

  /**
   * How the driver obtains plan.json.
   *
   * @param skipRatio k, or null for the planner's default path length
   *     ({@code PlannerConfig.Limits.defaultPathLength}) or when {@code tune}
   * @param tune {@code plan.skipRatio=auto}: choose path length and swaps by the tuner at start
   * @param tuneProbe {@code plan.tune.probe}: the tuner also runs convergence probes
   * @param tuneProbeSteps optimizer steps of each probe run
   */
  public record PlanSettings(String method, Double skipRatio, boolean tune, int pathLength,
      String planFile, boolean tuneProbe, int tuneProbeSteps) implements Serializable {
    public PlanSettings {
      if (tune && !planFile.isEmpty()) {
        throw new ConfigException(PLAN_SKIP_RATIO.name(), "auto", "cannot be combined with "
            + PLAN_FILE.name() + "=" + planFile + " (a given plan is not re-tuned)",
            "drop one of the two settings");
      }
      if (tune && pathLength > 0) {
        throw new ConfigException(PLAN_SKIP_RATIO.name(), "auto", "cannot be combined with "
            + PLAN_PATH_LENGTH.name() + "=" + pathLength + " (auto chooses the path length)",
            "set plan.pathLength=0 or give a fixed skip ratio");
      }
      if (tune && method.equals("dtfm")) {
        throw new ConfigException(PLAN_SKIP_RATIO.name(), "auto", "tunes the path length of"
            + " the skipping methods, and " + PLAN_METHOD.name() + "=dtfm is the full pipeline",
            "use plan.method=skippipe, or leave plan.skipRatio empty");
      }
      if (tuneProbe && !tune) {
        throw new ConfigException(PLAN_TUNE_PROBE.name(), "true", "only applies with "
            + PLAN_SKIP_RATIO.name() + "=auto", "set plan.skipRatio=auto or drop the probe");
      }
    }
  }

  /**
   * Network emulation ({@code emulated}), none ({@code direct}) or measurement ({@code probe}; the
   * probe* fields size the all-pairs probe at rendezvous, see {@code task.peer.NetworkProbe}).
   */
  public record NetworkSettings(String mode, double timeScale, boolean padCompute, int probeBytes,
 int probePings, int probePingBytes, int probeTimeoutMillis)
      implements Serializable {
    public boolean emulated() {
      return mode.equals("emulated");
    }
  }

  /** Where training text comes from and how it is read (see {@code driver.DataPrep}). */
  public record DataSettings(String input, String format, String jsonField, String tokenizer,
      String textDocument, long splitBytes, int maxRecordBytes, double maxSkippedFraction,
      boolean allowNonText) implements Serializable {}

  /** Iterations, chunking and AdamW hyper-parameters. */
  public record TrainSettings(int iterations, int chunkIterations, double learningRate,
      double beta1, double beta2, double epsilon, double weightDecay, double gradClipNorm,
      int maxChunkRetries, int warmupIterations, double minLearningRate, int intraOpThreads,
      int interOpThreads)
      implements Serializable {
    public TrainSettings {
      if (warmupIterations >= iterations) {
        throw new ConfigException(TRAIN_WARMUP_ITERATIONS.name(), "" + warmupIterations,
            "must be below " + TRAIN_ITERATIONS.name() + "=" + iterations
                + " (the cosine phase needs at least one iteration)",
            "lower the warmup or raise the iteration count");
      }
      if (!(minLearningRate >= 0) || minLearningRate > learningRate) {
        throw new ConfigException(TRAIN_MIN_LEARNING_RATE.name(), "" + minLearningRate,
            "must be in [0, " + TRAIN_LEARNING_RATE.name() + "=" + learningRate + "]",
            "give e.g. a tenth of the learning rate, or leave it empty for a constant rate");
      }
    }

    /** The optimizer's hyper-parameters. */
    public io.skippipe.model.optim.AdamWConfig adamW() {
      return new io.skippipe.model.optim.AdamWConfig(beta1, beta2, epsilon, weightDecay);
    }

    /** Warmup to {@code learningRate}, then cosine to {@code minLearningRate} at the end. */
    public io.skippipe.model.optim.LrSchedule lrSchedule() {
      return new io.skippipe.model.optim.LrSchedule(learningRate, minLearningRate,
          warmupIterations, iterations);
    }
  }

  /** Checkpoint location, cadence and retention. */
  public record CheckpointSettings(String dir, int everyIterations, int keep, boolean resume)
      implements Serializable {}

  /**
   * Elastic training (docs/OPERATIONS.md, "Elasticity and failures").
   *
   * @param minNodes fewest live nodes an attempt trains on
   * @param replacementWaitMillis wait for missing executors before re-planning onto fewer nodes
   * @param stageRecovery {@code checkpoint | neighbours}
   * @param replanFactor measured/predicted iteration time that triggers a re-plan; 0 = never
   * @param chunkTimeoutMillis driver deadline of a chunk attempt; 0 = automatic
   * @param emulatedProfile the network the emulation reproduces; empty = the planning profile
   */
  public record ElasticSettings(int minNodes, long replacementWaitMillis, String stageRecovery,
      double replanFactor, long chunkTimeoutMillis, String emulatedProfile)
      implements Serializable {
    public ElasticSettings {
      if (replanFactor > 0 && replanFactor < 1) {
        throw new ConfigException(ELASTIC_REPLAN_FACTOR.name(), "" + replanFactor,
            "must be 0 (never re-plan on measurements) or at least 1 (a factor over the"
                + " predicted iteration time)", "use e.g. 1.5");
      }
    }
  }

  /**
   * Layer-omission evaluation during training ({@code spark.skippipe.eval.*}, see {@code
   * eval.TrainingEval}).
   *
   * @param everyCommits evaluate after every N-th checkpoint commit; 0 = off
   * @param sequences held-out sequences per evaluation
   * @param halfSubsets seeded half-omitted subsets
   * @param omitStages further omitted-stage sets
   * @param data held-out text URI; empty = the bundled validation split
   */
  public record EvalSettings(int everyCommits, int sequences, int halfSubsets,
      java.util.List<java.util.Set<Integer>> omitStages, String data) implements Serializable {
    public EvalSettings {
      omitStages = java.util.List.copyOf(omitStages);
    }

    static java.util.List<java.util.Set<Integer>> parseSets(String v) {
      java.util.List<java.util.Set<Integer>> sets = new java.util.ArrayList<>();
      for (String set : v.split(";")) {
        if (set.isBlank()) {
          continue;
        }
        java.util.Set<Integer> stages = new java.util.TreeSet<>();
        for (String x : set.split(",")) {
          try {
            stages.add(Integer.parseInt(x.trim()));
          } catch (NumberFormatException e) {
            throw new ConfigException(EVAL_OMIT_STAGES.name(), v, "must be stage numbers, ','"
                + " within a set and ';' between sets", "write e.g. 2,4;3");
          }
        }
        sets.add(java.util.Set.copyOf(stages));
      }
      return sets;
    }
  }

  /**
   * The test hook: node {@code node}'s task throws once at {@code iteration} of {@code chunk}, or
   * with {@code stall} stops reading and computing there until it is cancelled.
   */
  public record FailureHook(int chunk, int iteration, int node, boolean stall)
      implements Serializable {
    /** A hook that throws. */
    public FailureHook(int chunk, int iteration, int node) {
      this(chunk, iteration, node, false);
    }

    static FailureHook parse(String s) {
      if (s.isEmpty()) {
        return null;
      }
      String[] p = s.split(":");
      try {
        if (p.length == 3 || (p.length == 4 && p[3].trim().matches("stall|throw"))) {
          return new FailureHook(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()),
              Integer.parseInt(p[2].trim()), p.length == 4 && p[3].trim().equals("stall"));
        }
      } catch (NumberFormatException e) {
        // fall through to the error below
      }
      throw new ConfigException(TEST_FAIL_AT.name(), s, "must be chunk:iteration:node (three"
          + " integers), optionally followed by :stall or :throw",
          "write e.g. 1:0:3 or 1:0:3:stall, or leave it empty to disable the hook");
    }
  }

  public JobConfig {
    if (train.chunkIterations() > train.iterations()) {
      throw new ConfigException(TRAIN_CHUNK_ITERATIONS.name(), "" + train.chunkIterations(),
          "must not exceed " + TRAIN_ITERATIONS.name() + "=" + train.iterations(),
          "lower the chunk size or raise the iteration count");
    }
  }

  /** The checkpoint root: {@code checkpoint.dir}, or {@code RUN_DIR/checkpoints}. */
  public String checkpointRoot() {
    return checkpoint.dir().isEmpty() ? stripSlash(runDir) + "/checkpoints" : checkpoint.dir();
  }

  private static String stripSlash(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /** Parses and validates settings (explicit keys; defaults fill the rest). */
  public static JobConfig parse(Map<String, String> raw) {
    return from(Settings.of(raw));
  }

  /** Parses and validates settings. */
  public static JobConfig from(Settings s) {
    String runDir = s.string(RUN_DIR);
    if (runDir.isEmpty()) {
      throw new ConfigException(RUN_DIR.name(), runDir, "must not be empty",
          "give a directory such as runs/my-run or hdfs:///user/me/runs/r1");
    }
    String model = s.string(MODEL);
    if (model.isEmpty()) {
      throw new ConfigException(MODEL.name(), model, "must not be empty",
          "name a preset under conf/models (e.g. llama-tiny) or a model spec JSON path");
    }
    String cluster = s.string(CLUSTER);
    if (cluster.isEmpty()) {
      throw new ConfigException(CLUSTER.name(), cluster, "must not be empty",
          "name a preset under conf/clusters (e.g. laptop-geo-12) or a cluster profile JSON path");
    }
    String ratio = s.string(PLAN_SKIP_RATIO).trim();
    boolean tune = ratio.equalsIgnoreCase("auto");
    PlanSettings plan = new PlanSettings(
        s.oneOf(PLAN_METHOD, "skippipe", "skippipe-no-tc2", "dtfm-skip", "dtfm"),
        ratio.isEmpty() || tune ? null : s.doubleIn(PLAN_SKIP_RATIO, 0.0, 1.0, false), tune,
        s.intIn(PLAN_PATH_LENGTH, 0, 1024),
        s.string(PLAN_FILE), s.bool(PLAN_TUNE_PROBE), s.intIn(PLAN_TUNE_PROBE_STEPS, 1, 100_000));
    NetworkSettings network = new NetworkSettings(
        s.oneOf(NETWORK_MODE, "emulated", "direct", "probe"),
        s.doubleIn(NETWORK_TIME_SCALE, 0.0, 1000.0, true),
        s.bool(NETWORK_PAD_COMPUTE),
        s.intIn(NETWORK_PROBE_BYTES, 1, 1 << 28),
        s.intIn(NETWORK_PROBE_PINGS, 1, 1000),
        s.intIn(NETWORK_PROBE_PING_BYTES, 0, 1 << 20),
        s.intIn(NETWORK_PROBE_TIMEOUT_MS, 1, 3_600_000));
    ModelSettings modelSettings = new ModelSettings(s.string(MODEL_INIT),
        s.intIn(MODEL_LAYERS_PER_STAGE, 0, 1 << 20));
    DataSettings data = new DataSettings(
        s.string(DATA_INPUT),
        s.oneOf(DATA_FORMAT, "auto", "text", "jsonl", "parquet"),
        s.string(DATA_JSON_FIELD),
        modelSettings.tokenizer(s.string(DATA_TOKENIZER)),
        s.oneOf(DATA_TEXT_DOCUMENT, "file", "paragraph", "line"),
        s.longIn(DATA_SPLIT_BYTES, 4096, 1L << 40),
        s.intIn(DATA_MAX_RECORD_BYTES, 1024, 1 << 30),
        s.doubleIn(DATA_MAX_SKIPPED_FRACTION, 0.0, 1.0, true),
        s.bool(DATA_ALLOW_NON_TEXT));
    TrainSettings train = new TrainSettings(
        s.intIn(TRAIN_ITERATIONS, 1, 100_000_000),
        s.intIn(TRAIN_CHUNK_ITERATIONS, 1, 100_000_000),
        s.doubleAbove(TRAIN_LEARNING_RATE, 0.0, 10.0), // LrSchedule and AdamW need lr > 0
        s.doubleIn(TRAIN_BETA1, 0.0, 1.0, false),
        s.doubleIn(TRAIN_BETA2, 0.0, 1.0, false),
        s.doubleAbove(TRAIN_EPSILON, 0.0, 1.0), // AdamWConfig: eps > 0
        s.doubleIn(TRAIN_WEIGHT_DECAY, 0.0, 10.0, true),
        s.doubleIn(TRAIN_GRAD_CLIP_NORM, 0.0, 1e9, true),
        s.intIn(TRAIN_MAX_CHUNK_RETRIES, 0, 100),
        s.intIn(TRAIN_WARMUP_ITERATIONS, 0, 100_000_000),
        s.doubleIn(s.string(TRAIN_MIN_LEARNING_RATE).isBlank() ? TRAIN_LEARNING_RATE
            : TRAIN_MIN_LEARNING_RATE, 0.0, 10.0, true),
        s.intIn(TRAIN_INTRA_OP_THREADS, 0, 4096),
        s.intIn(TRAIN_INTER_OP_THREADS, 0, 4096));
    CheckpointSettings checkpoint = new CheckpointSettings(
        s.string(CHECKPOINT_DIR),
        s.intIn(CHECKPOINT_EVERY, 0, 100_000_000),
        s.intIn(CHECKPOINT_KEEP, 2, 1_000_000),
        s.bool(CHECKPOINT_RESUME));
    TransferConfig transfer = new TransferConfig(
        s.string(TRANSFER_BIND_HOST),
        s.intIn(TRANSFER_PORT, 0, 65535),
        s.intIn(TRANSFER_QUEUE_CAPACITY, 1, 1_000_000),
        // below these bounds ordinary jitter (a GC pause, a TLS handshake, a slow link) fails a run
        s.intIn(TRANSFER_CONNECT_TIMEOUT_MS, 100, 3_600_000),
        s.intIn(TRANSFER_READ_TIMEOUT_MS, 1_000, 86_400_000),
        s.intIn(TRANSFER_HEARTBEAT_MS, 10, 3_600_000),
        s.intIn(TRANSFER_MAX_FRAME_BYTES, 1024, Integer.MAX_VALUE - 64), // vs. the plan: RunChecks
        s.intIn(TRANSFER_WRITE_TIMEOUT_MS, 1_000, 86_400_000),
        s.longIn(TRANSFER_MAX_BUFFERED_BYTES, 0, Long.MAX_VALUE),
        s.intIn(TRANSFER_MAX_PENDING_CONNECTIONS, 1, 1_000_000),
        s.intIn(TRANSFER_IO_THREADS, 0, 1024),
        TransferConfig.Encryption.parse(s.oneOf(TRANSFER_ENCRYPTION, "auto", "true", "false")));
    ComputeSettings compute = new ComputeSettings(
        s.oneOf(DEVICE, "auto", "cpu", "gpu"),
        s.oneOf(TRAIN_PRECISION, "fp32", "bf16"),
        s.bool(TRAIN_ACTIVATION_CHECKPOINTING),
        s.raw().containsKey(TRAIN_ACTIVATION_CHECKPOINTING.name()));
    return new JobConfig(runDir, s.bool(RUN_OVERWRITE), s.string(RUN_SECRET), s.longIn(SEED, Long.MIN_VALUE,
        Long.MAX_VALUE), model, modelSettings, cluster, plan, network, data, train, checkpoint, transfer,
        compute, s.bool(METRICS_PROGRESS), FailureHook.parse(s.string(TEST_FAIL_AT)),
        new ElasticSettings(s.intIn(ELASTIC_MIN_NODES, 1, 1_000_000),
            s.longIn(ELASTIC_REPLACEMENT_WAIT_MS, 0, 86_400_000),
            s.oneOf(ELASTIC_STAGE_RECOVERY, "checkpoint", "neighbours"),
            s.doubleIn(ELASTIC_REPLAN_FACTOR, 0.0, 1000.0, true),
            s.longIn(ELASTIC_CHUNK_TIMEOUT_MS, 0, 7L * 86_400_000),
            s.string(NETWORK_EMULATED_PROFILE)),
        new EvalSettings(s.intIn(EVAL_EVERY_COMMITS, 0, 1_000_000),
            s.intIn(EVAL_SEQUENCES, 1, 1_000_000), s.intIn(EVAL_HALF_SUBSETS, 0, 1000),
            EvalSettings.parseSets(s.string(EVAL_OMIT_STAGES)), s.string(EVAL_DATA)));
  }
}
