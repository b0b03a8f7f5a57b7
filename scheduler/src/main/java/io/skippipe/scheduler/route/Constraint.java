package io.skippipe.scheduler.route;

/**
 * A CBS constraint on one agent. {@link Kind#AVOID_STAGE} (resolves a TC1-a stage-cap conflict)
 * and {@link Kind#AVOID_NODE} (TC1-b node memory) forbid a stage or node outright;
 * {@link Kind#WAIT} (TC2 collision) forbids computing on {@code node} during
 * {@code [startMicros, endMicros)}, so the agent waits or goes elsewhere.
 */
public record Constraint(Kind kind, int agent, int stage, int node, long startMicros,
    long endMicros) {

  /** What the constraint forbids. */
  public enum Kind {
    AVOID_STAGE,
    AVOID_NODE,
    WAIT
  }

  public static Constraint avoidStage(int agent, int stage) {
    return new Constraint(Kind.AVOID_STAGE, agent, stage, -1, 0, 0);
  }

  public static Constraint avoidNode(int agent, int node) {
    return new Constraint(Kind.AVOID_NODE, agent, -1, node, 0, 0);
  }

  public static Constraint waitOn(int agent, int node, long startMicros, long endMicros) {
    return new Constraint(Kind.WAIT, agent, -1, node, startMicros, endMicros);
  }
}
