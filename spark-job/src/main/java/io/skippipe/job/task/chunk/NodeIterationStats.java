package io.skippipe.job.task.chunk;

import java.io.Serializable;

/**
 * What one node did in one iteration: its share of the loss, its time split, and (identical on
 * every node) the iteration's global values.
 *
 * @param lossSum sum of the losses of the microbatches this node is the data node of
 * @param lossCount those microbatches
 * @param meanLoss the iteration's mean loss over all microbatches (from the scalar exchange)
 * @param gradNorm the global gradient norm before clipping
 * @param busyMicros forward + loss + backward compute
 * @param waitMicros blocked waiting for activations / gradients / all-reduce segments / scalars
 * @param iterationMicros wall time of the iteration on this node
 * @param pipelineMicros wall time of the pipeline phase on this node (start of the iteration to
 *     its last forward/loss/backward task), the part the simulator predicts
 * @param lr the learning rate this node's optimizer step used
 * @param stageNorms every stage's gradient norm after clipping (index = stage; 0 for a stage no
 *     node serves): what a neighbour recovery weights by
 */
public record NodeIterationStats(int node, int stage, int iteration, double lossSum,
    int lossCount, double meanLoss, double gradNorm, long busyMicros, long waitMicros,
    long iterationMicros, long startEpochMicros, long pipelineMicros, double lr,
    double[] stageNorms) implements Serializable {
  /** Time neither computing nor waiting (optimizer, copies, bookkeeping). */
  public long idleMicros() {
    return Math.max(0, iterationMicros - busyMicros - waitMicros);
  }
}
