package io.skippipe.scheduler.plan;

/**
 * A user error in planner input (cluster profile, model spec, plan.json, command-line flag). The
 * message is one paragraph naming the offending value, the rule it breaks and how to fix it; the
 * CLI prints it and exits with code 2, without a stack trace.
 */
public class PlanningException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public PlanningException(String message) {
    super(message);
  }

  public PlanningException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Builds the standard three-part message: what value, which rule, what to do. */
  public static PlanningException of(String value, String rule, String fix) {
    return new PlanningException(value + ": " + rule + ". Fix: " + fix);
  }
}
