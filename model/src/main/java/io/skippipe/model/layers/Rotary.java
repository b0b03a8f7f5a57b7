package io.skippipe.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding (Su et al. 2021, RoFormer) in Hugging Face's "rotate_half" layout: the
 * first and second halves of each head's channels form the rotated pairs, {@code inv_freq[i] =
 * theta^(-2i/K)}, and positions are 0..T-1.
 *
 * <p>{@code out = x * cos + rotate_half(x) * sin}, where {@code rotate_half(x) = concat(-x2, x1)}
 * and the cos/sin tables repeat the K/2 frequencies twice along the channel axis.
 *
 * <p>Shape legend: B batch, H heads, T time, K channels per head. The tables are constants (no
 * gradient) computed on the host in double precision and owned by the manager given to {@link
 * #create}.
 */
public final class Rotary {
  private static NDArray owned(NDManager manager, float[] data, Shape shape) {
    try (NDArray borrowed = manager.create(data, shape)) {
      return borrowed.duplicate();
    }
  }

  private final NDArray cosTK;
  private final NDArray sinTK;
  private final int headDim;

  private Rotary(NDArray cosTK, NDArray sinTK, int headDim) {
    this.cosTK = cosTK;
    this.sinTK = sinTK;
    this.headDim = headDim;
  }

  /** Builds the cos/sin tables for {@code seqLen} positions in {@code manager}. */
  public static Rotary create(NDManager manager, int seqLen, int headDim, double theta) {
    float[] cos = new float[seqLen * headDim];
    float[] sin = new float[seqLen * headDim];
    int half = headDim / 2;
    for (int t = 0; t < seqLen; t++) {
      for (int i = 0; i < half; i++) {
        double invFreq = Math.pow(theta, -2.0 * i / headDim);
        double angle = t * invFreq;
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[t * headDim + i] = c;
        cos[t * headDim + i + half] = c;
        sin[t * headDim + i] = s;
        sin[t * headDim + i + half] = s;
      }
    }
    Shape shape = new Shape(seqLen, headDim);
    // copies in libtorch-owned memory (see AutogradAdapter.owned)
    return new Rotary(owned(manager, cos, shape), owned(manager, sin, shape), headDim);
  }

  /** The constant arrays this object owns (for leak accounting). */
  public NDArray[] constants() {
    return new NDArray[] {cosTK, sinTK};
  }

  /** Rotates {@code xBHTK} by position; the result belongs to {@code xBHTK}'s manager. */
  public NDArray apply(NDArray xBHTK) {
    int half = headDim / 2;
    // split each head's channels into the first and the second half
    NDArray x1BHTk = xBHTK.get(new NDIndex("..., :" + half));
    NDArray x2BHTk = xBHTK.get(new NDIndex("..., " + half + ":"));
    // rotate_half: (-x2, x1)
    NDArray rotatedBHTK = x2BHTk.neg().concat(x1BHTk, -1);
    // x * cos + rotate_half(x) * sin, tables broadcast over B and H
    return xBHTK.mul(cosTK).add(rotatedBHTK.mul(sinTK));
  }
}
