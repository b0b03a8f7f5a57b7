package io.skippipe.job.driver;

import io.skippipe.job.config.JobConfig;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;

/** {@code spark.skippipe.plan.skipRatio=auto}: the tuner at job start (placeholder, see below). */
final class JobTuning {
  private JobTuning() {}

  /** The tuned plan and the tuner's report (RUN_DIR/tune.json). */
  record Tuned(Plan plan, String reportJson) {}

  static Tuned tune(JobConfig cfg, ClusterProfile cluster, ModelSpec model, PlannerConfig base) {
    throw new UnsupportedOperationException("not yet");
  }
}
