package io.skippipe.scheduler.validate;

/**
 * One broken rule found by {@link ScheduleValidator}: which rule, which microbatch and node (-1
 * where not applicable) and when (seconds into the iteration; NaN for rules about paths).
 */
public record Violation(Kind kind, int microbatch, int node, double atSeconds, String detail) {

  /** The rules the validator checks. */
  public enum Kind {
    /** stages do not partition the nodes as the cluster's stageSizes say */
    STAGES,
    /** wrong microbatch count (fair comparison) or duplicate ids */
    MICROBATCHES,
    /** path empty, not starting at its data node, or data node not in stage 0 (CC) */
    PATH_START,
    /** path names a node that does not exist or is marked lost */
    UNKNOWN_NODE,
    /** path does not visit exactly pathLength stages (CC) */
    PATH_LENGTH,
    /** path visits a stage twice (CC) */
    STAGE_REPEAT,
    /** more swaps than maxSwaps (CC) */
    SWAP_LIMIT,
    /** a swap going back further than maxSwapDistance (CC) */
    SWAP_DISTANCE,
    /** a hop moving further than maxJump stages from the frontier (CC) */
    JUMP_LIMIT,
    /** more distinct paths through a non-data stage than stageCap (TC1-a; a warning) */
    STAGE_CAP,
    /** more distinct paths through a non-data node than memory (TC1-b; a warning) */
    NODE_CAP,
    /** a task of the microbatch is missing from the timeline or out of order */
    MISSING_TASK,
    /** a task's duration differs from the cost model */
    DURATION,
    /** a task starts before its input can have arrived */
    DEPENDENCY,
    /** a microbatch starts before its release time */
    RELEASE,
    /** two tasks compute on one node at overlapping times (TC2 on the timeline) */
    OVERLAP,
    /** a node holds more activations than its memory */
    MEMORY,
    /** the reported iteration time differs from the timeline's makespan */
    MAKESPAN,
    /** a replica's stage all-reduce starts before its pipeline work ends or is shorter than the
     * ring's lower bound */
    ALLREDUCE;

    /** Whether this is a throughput cap (TC1): a planner objective, reported as a warning. */
    public boolean isThroughputCap() {
      return this == STAGE_CAP || this == NODE_CAP;
    }
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder(kind.name()).append(": ");
    if (microbatch >= 0) {
      b.append("microbatch ").append(microbatch).append(' ');
    }
    if (node >= 0) {
      b.append("at node ").append(node).append(' ');
    }
    if (!Double.isNaN(atSeconds)) {
      b.append(String.format(java.util.Locale.ROOT, "t=%.6f s ", atSeconds));
    }
    return b.append("- ").append(detail).toString();
  }
}
