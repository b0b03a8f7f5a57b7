package io.skippipe.scheduler.simulate;

import io.skippipe.scheduler.timeline.Span;
import java.util.List;

/**
 * Outcome of simulating one iteration.
 *
 * @param pipelineMicros time at which the last microbatch's final backward ends (forward,
 *     backward and loss only: the paper's iteration time)
 * @param iterationMicros time at which the last node finishes the whole iteration: pipeline,
 *     its stage's gradient all-reduce, the scalar exchange and its optimizer step
 * @param busyFractionByNode compute time of each node divided by the pipeline time
 * @param spans every compute span (FWD, LOSS, BWD), every hop (SEND, on the sending node), each
 *     replica's ALLREDUCE and each node's scalar exchange (WAIT)
 * @param deadlocked true when some microbatch could never run (memory caps blocking each other);
 *     both times are then {@link Long#MAX_VALUE}
 * @param microbatches microbatches simulated
 */
public record SimulationResult(
    long pipelineMicros, long iterationMicros, double[] busyFractionByNode, List<Span> spans,
    boolean deadlocked, int microbatches) {

  /** The pipeline time in seconds (infinite when deadlocked): the paper's metric. */
  public double pipelineSeconds() {
    return deadlocked ? Double.POSITIVE_INFINITY : pipelineMicros / 1e6;
  }

  /** The whole iteration in seconds (infinite when deadlocked): what a user measures. */
  public double iterationSeconds() {
    return deadlocked ? Double.POSITIVE_INFINITY : iterationMicros / 1e6;
  }
}
