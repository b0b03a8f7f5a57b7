package io.skippipe.model.optim;

/**
 * Global-norm gradient clipping (Pascanu et al. 2013), as PyTorch's {@code clip_grad_norm_}: with
 * {@code norm = sqrt(Σ over ALL parameters of g²)}, gradients are multiplied by {@code min(1,
 * maxNorm / (norm + 1e-6))}.
 *
 * <p>In a distributed run each stage reports {@code StageModel.gradientSumOfSquares()}; the sum
 * over all stages gives the global norm, and every stage steps with the same clip scale.
 */
public final class GradientClipping {
  /** PyTorch's epsilon in {@code clip_grad_norm_}. */
  public static final double EPS = 1e-6;

  private GradientClipping() {}

  /** The global L2 norm from the per-stage sums of squares. */
  public static double globalNorm(double... sumsOfSquares) {
    double total = 0;
    for (double s : sumsOfSquares) {
      total += s;
    }
    return Math.sqrt(total);
  }

  /** The factor gradients are multiplied by; 1 when {@code maxNorm <= 0} (clipping off). */
  public static double clipScale(double globalNorm, double maxNorm) {
    if (maxNorm <= 0) {
      return 1.0;
    }
    return Math.min(1.0, maxNorm / (globalNorm + EPS));
  }
}
