package io.skippipe.job.driver;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Function;

/**
 * Step 3 of the job: the plan (planner on the driver, tuned with {@code plan.skipRatio=auto}, or a
 * given plan.json), validated, with its hash.
 *
 * <p>Every plan the job runs passes the independent validator: a violation of a hard rule
 * (structure, the convergence rules, memory feasibility) stops the run with a {@link
 * ConfigException} naming the plan's source; an exceeded throughput cap (TC1) is a warning line.
 */
public final class JobPlanning {
  private JobPlanning() {}

  /**
   * A plan with its JSON text and SHA-256 (recorded in every checkpoint commit), the validator's
   * warnings, and — with {@code plan.skipRatio=auto} — the tuner's report (RUN_DIR/tune.json), else
   * null.
   */
  public record PlannedRun(Plan plan, String json, String hash, List<String> warnings,
      String tuneJson) {}

  /** Plans on the configured cluster profile and model (or reads spark.skippipe.plan.file). */
  public static PlannedRun plan(JobConfig cfg, Function<String, byte[]> readUri) {
    return plan(cfg, null, readUri);
  }

  /** The configured cluster profile (spark.skippipe.cluster), or a ConfigException naming it. */
  public static ClusterProfile cluster(JobConfig cfg) {
    try {
      return Presets.cluster(cfg.cluster());
    } catch (RuntimeException e) {
      throw new ConfigException(ConfigKeys.CLUSTER.name(), cfg.cluster(), e.getMessage(),
          "name a preset under conf/clusters or a cluster profile JSON file");
    }
  }

  /**
   * The model the run trains: the one in {@code spark.skippipe.plan.file} when given, else the
   * configured model fitted to the configured cluster ({@link RunModel}); its bytes per activation
   * element follow {@code spark.skippipe.train.precision}.
   */
  public static ModelSpec modelSpec(JobConfig cfg, Function<String, byte[]> readUri) {
    ModelSpec given;
    if (!cfg.plan().planFile().isEmpty()) {
      try {
        given = PlanCodec.read(new java.io.ByteArrayInputStream(
            readUri.apply(cfg.plan().planFile()))).model();
      } catch (PlanningException e) {
        throw new ConfigException(ConfigKeys.PLAN_FILE.name(), cfg.plan().planFile(),
            e.getMessage(), "pass a plan.json written by 'bin/skippipe plan'");
      }
    } else {
      given = RunModel.fit(cfg, cluster(cfg), readUri).model();
    }
    return given.withActivationBytesPerElement(cfg.compute().stagePrecision().bytesPerElement());
  }

  /** The configured model spec (spark.skippipe.model), or a ConfigException naming it. */
  public static ModelSpec model(JobConfig cfg) {
    try {
      return Presets.model(cfg.model());
    } catch (RuntimeException e) {
      throw new ConfigException(ConfigKeys.MODEL.name(), cfg.model(), e.getMessage(),
          "name a preset under conf/models or a model spec JSON file");
    }
  }

  /**
   * Plans on {@code measured} (the probe's profile) when non-null, else on the configured cluster
   * profile, or reads spark.skippipe.plan.file; then validates and simulates the plan.
   */
  public static PlannedRun plan(JobConfig cfg, ClusterProfile measured,
      Function<String, byte[]> readUri) {
    return plan(cfg, measured, readUri, plannerConfig(cfg));
  }

  /**
   * As {@link #plan(JobConfig, ClusterProfile, Function)} with the given planner settings
   * ({@link #plannerConfig} of the job, or the same with smaller search budgets in tests).
   */
  static PlannedRun plan(JobConfig cfg, ClusterProfile measured,
      Function<String, byte[]> readUri, PlannerConfig settings) {
    Plan plan;
    String key;
    String source;
    String tuneJson = null;
    if (!cfg.plan().planFile().isEmpty()) {
      key = ConfigKeys.PLAN_FILE.name();
      source = cfg.plan().planFile();
      try {
        plan = PlanCodec.read(new java.io.ByteArrayInputStream(
            readUri.apply(cfg.plan().planFile())));
      } catch (PlanningException e) {
        throw new ConfigException(ConfigKeys.PLAN_FILE.name(), cfg.plan().planFile(),
            e.getMessage(), "pass a plan.json written by 'bin/skippipe plan'");
      }
      plan = withCheckpointing(cfg, plan);
    } else {
      RunModel.Fit fit = RunModel.fit(cfg, measured != null ? measured : cluster(cfg), readUri);
      ClusterProfile cluster = fit.cluster();
      ModelSpec model = fit.model();
      key = ConfigKeys.PLAN_METHOD.name();
      source = cfg.plan().method();
      try {
        if (cfg.plan().tune()) {
          JobTuning.Tuned t = JobTuning.tune(cfg, cluster, model, settings, readUri);
          plan = t.plan();
          tuneJson = t.reportJson();
        } else {
          plan = Planner.plan(cluster, model, settings);
        }
      } catch (PlanningException e) {
        throw rejected(cfg, e);
      }
    }
    Validated v = validate(plan, key, source);
    String json = PlanCodec.toJsonString(v.plan());
    return new PlannedRun(v.plan(), json, sha256(json), v.warnings(), tuneJson);
  }

  /**
   * A given plan under the run's activation checkpointing: a plan made with it keeps it (its
   * memory caps count on it; explicitly setting {@code train.activationCheckpointing=false} is
   * refused); a plan made without it gets it when the setting asks for it (re-simulated by
   * {@link #validate}, with longer backwards and larger node memory).
   */
  static Plan withCheckpointing(JobConfig cfg, Plan plan) {
    boolean planned = plan.model().activationCheckpointing();
    boolean asked = cfg.compute().activationCheckpointing();
    if (planned && !asked && cfg.compute().activationCheckpointingGiven()) {
      throw new ConfigException(ConfigKeys.TRAIN_ACTIVATION_CHECKPOINTING.name(), "false",
          "plan " + cfg.plan().planFile() + " was made with activation checkpointing"
              + " (\"activationCheckpointing\": true in its model): its memory caps count on it",
          "leave " + ConfigKeys.TRAIN_ACTIVATION_CHECKPOINTING.name() + " unset, or re-create"
              + " the plan without activation checkpointing");
    }
    if (planned || !asked) {
      return plan;
    }
    return new Plan(plan.format(), plan.method(), plan.seed(), plan.cluster(),
        plan.model().withActivationCheckpointing(true), plan.constraints(), plan.stages(),
        plan.microbatches(), plan.predicted());
  }

  /**
   * A planner rejection as a {@link ConfigException} naming the setting that causes it: the path
   * length or skip ratio, the model, or the cluster profile; the method for the rest.
   */
  static ConfigException rejected(JobConfig cfg, PlanningException e) {
    String subject = e.subject();
    ConfigKeys.Key key;
    String value;
    if (subject.startsWith("path length")) {
      key = ConfigKeys.PLAN_PATH_LENGTH;
      value = "" + cfg.plan().pathLength();
    } else if (subject.startsWith("skip ratio")) {
      key = ConfigKeys.PLAN_SKIP_RATIO;
      value = "" + cfg.plan().skipRatio();
    } else if (subject.startsWith("model ")) {
      key = ConfigKeys.MODEL;
      value = cfg.model();
    } else if (subject.startsWith("cluster ") || subject.startsWith("node ")
        || subject.startsWith("link ") || subject.startsWith("live nodes")) {
      key = ConfigKeys.CLUSTER;
      value = cfg.cluster();
    } else {
      key = ConfigKeys.PLAN_METHOD;
      value = cfg.plan().method();
    }
    return new ConfigException(key.name(), value, "the planner rejected this setup: "
        + e.getMessage(), "change " + key.name() + " (or the other plan.* settings) as the"
        + " planner says");
  }

  /** The planner settings of the job: method, seed, path length (or skip ratio), defaults. */
  public static PlannerConfig plannerConfig(JobConfig cfg) {
    PlannerConfig d = PlannerConfig.defaults(cfg.plan().method()).withSeed(cfg.seed());
    boolean byLength = cfg.plan().pathLength() > 0;
    if (byLength) {
      return d.withLimits(d.limits().withPathLength(cfg.plan().pathLength()));
    }
    if (cfg.plan().skipRatio() != null && !cfg.plan().method().equals("dtfm")) {
      return d.withLimits(d.limits().withSkipRatio(cfg.plan().skipRatio()));
    }
    return d;
  }

  /** A validated plan with its recomputed prediction and the warnings to show. */
  record Validated(Plan plan, List<String> warnings) {}

  /**
   * Validates a plan (hard rules → {@link ConfigException} naming {@code key=source}), simulates
   * it and returns it with the simulator's prediction (whole iteration and pipeline).
   */
  static Validated validate(Plan given, String key, String source) {
    Plan plan = given.withPredicted(null);
    ValidationReport paths = ScheduleValidator.checkPaths(plan);
    if (!paths.ok()) {
      throw invalid(key, source, paths);
    }
    SimulationResult sim = Simulator.run(plan);
    if (sim.deadlocked()) {
      throw new ConfigException(key, source, "the plan deadlocks in simulation (memory caps of"
          + " crossing paths block each other)", "re-create the plan with 'bin/skippipe plan'");
    }
    ValidationReport report = ScheduleValidator.check(plan, sim.spans());
    if (!report.ok()) {
      throw invalid(key, source, report);
    }
    Plan predicted = plan.withPredicted(new Plan.Predicted(sim.iterationSeconds(),
        sim.pipelineSeconds(), given.predicted() == null ? null
        : given.predicted().planSeconds()));
    return new Validated(predicted, report.warningLines());
  }

  private static ConfigException invalid(String key, String source, ValidationReport r) {
    String msg;
    try {
      r.throwIfInvalid();
      msg = "invalid";
    } catch (PlanningException e) {
      msg = e.getMessage();
    }
    return new ConfigException(key, source, msg,
        "re-create the plan with 'bin/skippipe plan', or fix the named paths");
  }

  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
