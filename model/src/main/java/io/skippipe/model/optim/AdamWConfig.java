package io.skippipe.model.optim;

/**
 * AdamW hyper-parameters (Loshchilov and Hutter 2019), PyTorch names: {@code beta1}, {@code beta2},
 * {@code eps}, {@code weightDecay} (decoupled; applied to matrices only, never to RMSNorm weights).
 */
public record AdamWConfig(double beta1, double beta2, double eps, double weightDecay) {

  /** LLaMA's published settings: betas (0.9, 0.95), eps 1e-8, weight decay 0.1. */
  public static AdamWConfig llamaDefaults() {
    return new AdamWConfig(0.9, 0.95, 1e-8, 0.1);
  }

  public AdamWConfig {
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new IllegalArgumentException("AdamW beta1 " + beta1 + " must be in [0, 1), e.g. 0.9.");
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("AdamW beta2 " + beta2 + " must be in [0, 1), e.g. 0.95.");
    }
    if (!(eps > 0)) {
      throw new IllegalArgumentException("AdamW eps " + eps + " must be > 0, e.g. 1e-8.");
    }
    if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
      throw new IllegalArgumentException(
          "AdamW weightDecay " + weightDecay + " must be a finite number >= 0, e.g. 0.1.");
    }
  }
}
