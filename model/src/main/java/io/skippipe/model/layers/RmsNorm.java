package io.skippipe.model.layers;

import ai.djl.ndarray.NDArray;

/**
 * Root-mean-square layer norm (Zhang and Sennrich 2019), as in HF {@code LlamaRMSNorm}: {@code x /
 * sqrt(mean(x²) + eps) * weight}, the mean taken over the channel axis.
 *
 * <p>Shape legend: B batch, T time (sequence position), D model channels.
 */
public final class RmsNorm {
  private RmsNorm() {}

  /**
   * Normalises {@code xBTD} over its last axis and scales by {@code weightD}. The result belongs to
   * {@code xBTD}'s manager.
   */
  public static NDArray forward(NDArray xBTD, NDArray weightD, double eps) {
    int channelAxis = xBTD.getShape().dimension() - 1;
    // mean square over the channels, kept as a trailing axis of 1 for broadcasting
    NDArray meanSquareBT1 = xBTD.square().mean(new int[] {channelAxis}, true);
    // root mean square with epsilon inside the root
    NDArray rmsBT1 = meanSquareBT1.add((float) eps).sqrt();
    // normalise, then apply the learned per-channel gain
    return xBTD.div(rmsBT1).mul(weightD);
  }
}
