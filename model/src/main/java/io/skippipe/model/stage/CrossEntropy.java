package io.skippipe.model.stage;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Next-token cross-entropy (natural log) over float32 logits: {@code -log softmax(logits)[target]}
 * per position. Shape legend: B batch, T time, V vocabulary.
 */
public final class CrossEntropy {
  private CrossEntropy() {}

  /** Mean over all B·T positions; a scalar in {@code logitsBTV}'s manager. */
  public static NDArray mean(NDArray logitsBTV, NDArray targetsBT) {
    return picked(logitsBTV, targetsBT).neg().mean();
  }

  /** Sum over all positions (for perplexity); a scalar in {@code logitsBTV}'s manager. */
  public static NDArray sum(NDArray logitsBTV, NDArray targetsBT) {
    return picked(logitsBTV, targetsBT).neg().sum();
  }

  /** {@code log softmax(logits)} at each target id: {@code [B,T,1]}. */
  private static NDArray picked(NDArray logitsBTV, NDArray targetsBT) {
    NDArray logProbsBTV = logitsBTV.logSoftmax(-1);
    NDArray targetsBT1 = targetsBT.toType(DataType.INT64, false).expandDims(-1);
    return logProbsBTV.gather(targetsBT1, -1);
  }
}
