package io.skippipe.scheduler.plan;

/**
 * A user error in planner input (cluster profile, model spec, plan.json, command-line flag). The
 * message is one paragraph naming the offending value, the rule it breaks and how to fix it; the
 * CLI prints it and exits with code 2, without a stack trace.
 */
public class PlanningException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final String subject;

  public PlanningException(String message) {
    this(message, (Throwable) null);
  }

  public PlanningException(String message, Throwable cause) {
    super(message, cause);
    this.subject = "";
  }

  private PlanningException(String subject, String message) {
    super(message);
    this.subject = subject;
  }

  /** Builds the standard three-part message: what value, which rule, what to do. */
  public static PlanningException of(String value, String rule, String fix) {
    return new PlanningException(value, value + ": " + rule + ". Fix: " + fix);
  }

  /**
   * The offending value as {@link #of} named it (e.g. "path length 9", "model llama-tiny layers
   * 12 ...", "cluster c stageSizes [...]"), so a caller can tell which of its inputs to blame; empty
   * when the exception was built from a plain message.
   */
  public String subject() {
    return subject;
  }
}
