package io.skippipe.scheduler.timeline;

/**
 * One interval of work on one node: the unit of both the simulator's predicted timeline and the
 * runtime's measured trace (the two are drawn side by side by {@code bin/skippipe timeline}).
 *
 * <p>{@code microbatch} is -1 where the span belongs to no microbatch (all-reduce, checkpoint). For
 * {@link Kind#SEND} and {@link Kind#RECV} spans {@code node} is the node doing the sending or
 * receiving. Times are microseconds from the start of the iteration (or run).
 */
public record Span(
    int node, int stage, int microbatch, Kind kind, long startMicros, long endMicros) {

  /** What the node is doing during the span. */
  public enum Kind {
    FWD,
    BWD,
    LOSS,
    SEND,
    RECV,
    ALLREDUCE,
    CKPT,
    WAIT
  }

  public Span {
    if (kind == null) {
      throw new IllegalArgumentException("span kind must not be null");
    }
    if (endMicros < startMicros) {
      throw new IllegalArgumentException(
          "span ends before it starts: start " + startMicros + " > end " + endMicros);
    }
  }

  /** Length of the span in microseconds. */
  public long durationMicros() {
    return endMicros - startMicros;
  }

  /** Whether this span is compute (forward, backward or loss) rather than communication. */
  public boolean isCompute() {
    return kind == Kind.FWD || kind == Kind.BWD || kind == Kind.LOSS;
  }
}
