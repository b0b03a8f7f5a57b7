package io.skippipe.scheduler.tune;

import java.util.List;

/**
 * A training-loss curve as a function of the work done, {@code L(E) = a · E^(−b)}, where E counts
 * sample-layers processed (each sample of an iteration times the decoder layers its path visits).
 *
 * <p>Why this model: a power law of the work done is the standard description of language-model
 * loss over training (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", loss vs data
 * and compute); its two parameters are identifiable from a short probe, it is monotone and has a
 * closed-form inverse. It leaves out the irreducible-loss term {@code L∞} of the full law, which a
 * probe of tens of steps cannot pin down; so predictions far below the probes' losses are
 * extrapolations and the tuner's default target stays inside the probed range.
 *
 * <p>Fit: least squares of {@code ln L = ln a − b · ln E} over the probe's points.
 *
 * @param a loss at E = 1
 * @param b decay exponent (&gt; 0 for a decreasing loss)
 * @param points points the fit used
 */
public record LossCurve(double a, double b, int points) {

  /** One probe measurement: sample-layers processed so far and the loss at that step. */
  public record Sample(double sampleLayers, double loss) {}

  /**
   * Fits the curve to the samples (all with positive E and loss).
   *
   * @throws IllegalArgumentException with fewer than two usable samples
   */
  public static LossCurve fit(List<Sample> samples) {
    double sx = 0;
    double sy = 0;
    double sxx = 0;
    double sxy = 0;
    int n = 0;
    for (Sample s : samples) {
      if (s.sampleLayers() > 0 && s.loss() > 0 && Double.isFinite(s.loss())) {
        double x = Math.log(s.sampleLayers());
        double y = Math.log(s.loss());
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        n++;
      }
    }
    if (n < 2 || n * sxx - sx * sx <= 0) {
      throw new IllegalArgumentException("a loss curve needs at least two probe points at"
          + " different amounts of work, got " + n);
    }
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    double intercept = (sy - slope * sx) / n;
    return new LossCurve(Math.exp(intercept), -slope, n);
  }

  /** Whether the curve decreases (b &gt; 0), i.e. predicts progress. */
  public boolean decreasing() {
    return b > 0;
  }

  /** The predicted loss after E sample-layers. */
  public double loss(double sampleLayers) {
    return a * Math.pow(sampleLayers, -b);
  }

  /** The sample-layers needed to reach {@code loss}; infinite when the curve does not decrease. */
  public double sampleLayersTo(double loss) {
    if (!decreasing()) {
      return Double.POSITIVE_INFINITY;
    }
    return Math.pow(a / loss, 1 / b);
  }
}
