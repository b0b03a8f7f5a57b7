package io.skippipe.scheduler.validate;

import io.skippipe.scheduler.plan.PlanningException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What {@link ScheduleValidator} found. {@code violations} break a hard rule — structure, the
 * convergence rules (CC), memory feasibility, the timeline's physics — and make the plan invalid;
 * {@code warnings} exceed a throughput cap (TC1: stage cap, per-node path cap), which are the
 * planner's objectives, not correctness rules: such a plan still runs and simulates.
 */
public record ValidationReport(List<Violation> violations, List<Violation> warnings) {
  public ValidationReport {
    violations = List.copyOf(violations);
    warnings = List.copyOf(warnings);
  }

  /** Splits findings into violations and warnings by {@link Violation.Kind#isThroughputCap()}. */
  public static ValidationReport of(List<Violation> found) {
    return new ValidationReport(found.stream().filter(v -> !v.kind().isThroughputCap()).toList(),
        found.stream().filter(v -> v.kind().isThroughputCap()).toList());
  }

  /** Whether the plan is valid (warnings allowed). */
  public boolean ok() {
    return violations.isEmpty();
  }

  /** Whether some violation or warning is of this kind. */
  public boolean has(Violation.Kind kind) {
    return violations.stream().anyMatch(v -> v.kind() == kind)
        || warnings.stream().anyMatch(v -> v.kind() == kind);
  }

  /** Throws a {@link PlanningException} listing (up to ten) violations when there are any. */
  public void throwIfInvalid() {
    if (ok()) {
      return;
    }
    String list = violations.stream().limit(10).map(Violation::toString)
        .collect(Collectors.joining("; "));
    throw new PlanningException("invalid plan, " + violations.size() + " violation(s): " + list
        + (violations.size() > 10 ? "; ..." : "")
        + ". Fix: re-create the plan with 'skippipe plan' or correct the named microbatch paths");
  }

  /** One line per warning, prefixed "warning: " and naming what the planner would avoid. */
  public List<String> warningLines() {
    return warnings.stream().map(w -> "warning: " + w + " (a throughput cap, not a correctness"
        + " rule: the plan runs, but the planner would spread these paths)").toList();
  }
}
