package io.skippipe.scheduler.simulate;

import io.skippipe.scheduler.timeline.Span;
import java.util.List;

/**
 * Outcome of simulating one iteration.
 *
 * @param makespanMicros time at which the last microbatch's final backward ends
 * @param busyFractionByNode compute time of each node divided by the makespan
 * @param spans every compute span (FWD, LOSS, BWD) and every hop (SEND, on the sending node)
 * @param deadlocked true when some microbatch could never run (memory caps blocking each other);
 *     the makespan is then {@link Long#MAX_VALUE}
 */
public record SimulationResult(
    long makespanMicros, double[] busyFractionByNode, List<Span> spans, boolean deadlocked,
    int microbatches) {

  /** The iteration time in seconds (infinite when deadlocked). */
  public double iterationSeconds() {
    return deadlocked ? Double.POSITIVE_INFINITY : makespanMicros / 1e6;
  }
}
