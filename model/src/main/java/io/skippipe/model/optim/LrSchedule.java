package io.skippipe.model.optim;

/**
 * Linear warmup then cosine decay of the learning rate, as in the LLaMA papers.
 *
 * <p>For 0-based optimizer step {@code s}: during warmup ({@code s < warmupSteps}) {@code lr =
 * peakLr · (s+1)/warmupSteps}; afterwards {@code lr = minLr + (peakLr − minLr) · ½(1 + cos(π · p))}
 * with {@code p = min(1, (s − warmupSteps)/(totalSteps − warmupSteps))}, and {@code minLr} after
 * {@code totalSteps}.
 */
public record LrSchedule(double peakLr, double minLr, int warmupSteps, int totalSteps) {

  public LrSchedule {
    if (!(peakLr > 0) || !Double.isFinite(peakLr)) {
      throw new IllegalArgumentException(
          "peakLr " + peakLr + " must be a positive number, e.g. 3e-4.");
    }
    if (!(minLr >= 0) || minLr > peakLr) {
      throw new IllegalArgumentException(
          "minLr " + minLr + " must be in [0, peakLr=" + peakLr + "], e.g. peakLr/10.");
    }
    if (warmupSteps < 0) {
      throw new IllegalArgumentException("warmupSteps " + warmupSteps + " must be >= 0.");
    }
    if (totalSteps <= warmupSteps) {
      throw new IllegalArgumentException(
          "totalSteps "
              + totalSteps
              + " must exceed warmupSteps "
              + warmupSteps
              + "; the cosine phase needs at least one step.");
    }
  }

  /** A constant learning rate (no warmup, no decay) for {@code totalSteps}. */
  public static LrSchedule constant(double lr, int totalSteps) {
    return new LrSchedule(lr, lr, 0, Math.max(1, totalSteps));
  }

  /** The learning rate of 0-based optimizer step {@code step}. */
  public double lr(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step " + step + " must be >= 0");
    }
    if (step < warmupSteps) {
      return peakLr * (step + 1) / warmupSteps;
    }
    double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
    return minLr + (peakLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}
