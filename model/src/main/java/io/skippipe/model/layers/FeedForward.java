package io.skippipe.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/**
 * The SwiGLU feed-forward block (Shazeer 2020) of HF {@code LlamaMLP}: {@code down(silu(gate(x)) *
 * up(x))}, no biases, {@code silu(z) = z * sigmoid(z)}.
 *
 * <p>Shape legend: B batch, T time, D model channels, F feed-forward channels. Weights: {@code
 * gateProj, upProj [F, D]}, {@code downProj [D, F]}.
 */
public record FeedForward(NDArray gateProj, NDArray upProj, NDArray downProj) {

  /** Applies the block to {@code xBTD}; the result belongs to {@code xBTD}'s manager. */
  public NDArray forward(NDArray xBTD) {
    // gate and up projections
    NDArray gateBTF = Attention.linearNoBias(xBTD, gateProj);
    NDArray upBTF = Attention.linearNoBias(xBTD, upProj);
    // SiLU on the gate, times the up projection
    NDArray hiddenBTF = gateBTF.mul(Activation.sigmoid(gateBTF)).mul(upBTF);
    // back down to the model width
    return Attention.linearNoBias(hiddenBTF, downProj);
  }
}
