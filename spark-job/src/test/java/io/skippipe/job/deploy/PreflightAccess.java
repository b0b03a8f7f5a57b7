package io.skippipe.job.deploy;

import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;

/** Test access to {@link Preflight}'s per-executor barrier check from other packages. */
public final class PreflightAccess {
  private PreflightAccess() {}

  /** Runs the preflight checks on {@code executors} executors; returns the report lines. */
  public static List<String> check(JavaSparkContext jsc, List<String> runDirs, int executors) {
    return Preflight.check(jsc, runDirs, executors).stream().map(Preflight.Report::line).toList();
  }
}
