package io.skippipe.scheduler.validate;

import io.skippipe.scheduler.plan.PlanningException;
import java.util.List;
import java.util.stream.Collectors;

/** The violations found in a plan; empty when the plan is valid. */
public record ValidationReport(List<Violation> violations) {
  public ValidationReport {
    violations = List.copyOf(violations);
  }

  public boolean ok() {
    return violations.isEmpty();
  }

  /** Whether some violation is of this kind. */
  public boolean has(Violation.Kind kind) {
    return violations.stream().anyMatch(v -> v.kind() == kind);
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
}
