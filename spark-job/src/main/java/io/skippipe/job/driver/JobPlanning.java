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
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Step 3 of the job: the plan (planner on the driver, or a given plan.json) and its hash. */
public final class JobPlanning {
  private JobPlanning() {}

  /** A plan with its JSON text and SHA-256 (recorded in every checkpoint commit). */
  public record PlannedRun(Plan plan, String json, String hash) {}

  /** Plans on the configured cluster profile and model (or reads spark.skippipe.plan.file). */
  public static PlannedRun plan(JobConfig cfg, java.util.function.Function<String, byte[]> readUri) {
    return plan(cfg, null, readUri);
  }

  /**
   * The model the run trains: the one in {@code spark.skippipe.plan.file} when given, else the
   * {@code spark.skippipe.model} preset or spec file.
   */
  public static ModelSpec modelSpec(JobConfig cfg,
      java.util.function.Function<String, byte[]> readUri) {
    if (!cfg.plan().planFile().isEmpty()) {
      return PlanCodec.read(new java.io.ByteArrayInputStream(
          readUri.apply(cfg.plan().planFile()))).model();
    }
    try {
      return Presets.model(cfg.model());
    } catch (RuntimeException e) {
      throw new ConfigException(ConfigKeys.MODEL.name(), cfg.model(), e.getMessage(),
          "name a preset under conf/models or a model spec JSON file");
    }
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
   * Plans on {@code measured} (the probe's profile) when non-null, else on the configured cluster
   * profile, or reads spark.skippipe.plan.file.
   */
  public static PlannedRun plan(JobConfig cfg, ClusterProfile measured,
      java.util.function.Function<String, byte[]> readUri) {
    Plan plan;
    if (!cfg.plan().planFile().isEmpty()) {
      plan = PlanCodec.read(new java.io.ByteArrayInputStream(readUri.apply(cfg.plan().planFile())));
    } else {
      ClusterProfile cluster = measured != null ? measured : cluster(cfg);
      ModelSpec model = modelSpec(cfg, readUri);
      PlannerConfig d = PlannerConfig.defaults(cfg.plan().method());
      boolean byLength = cfg.plan().pathLength() > 0;
      PlannerConfig pc = new PlannerConfig(cfg.plan().method(),
          byLength || cfg.plan().method().equals("dtfm") ? null : cfg.plan().skipRatio(),
          byLength ? cfg.plan().pathLength() : null, cfg.seed(), null, d.allocator(),
          d.gcmaPopulation(), d.gcmaTrials(), d.maxSwaps(), d.maxSwapDistance(), d.maxJump(),
          d.memory(), d.stageCap(), d.cbsMaxNodes(), d.cbsGoals(), d.cbsBranching());
      try {
        plan = Planner.plan(cluster, model, pc);
      } catch (PlanningException e) {
        throw new ConfigException(ConfigKeys.PLAN_METHOD.name(), cfg.plan().method(),
            "the planner rejected this setup: " + e.getMessage(),
            "change the cluster, model or plan.* settings as the planner says");
      }
    }
    String json = PlanCodec.toJsonString(plan);
    return new PlannedRun(plan, json, sha256(json));
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
