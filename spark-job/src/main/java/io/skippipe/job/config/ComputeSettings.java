package io.skippipe.job.config;

import io.skippipe.model.stage.Precision;
import java.io.Serializable;

/**
 * Where and how a stage computes: {@code spark.skippipe.device} (auto | cpu | gpu), {@code
 * spark.skippipe.train.precision} (fp32 | bf16) and {@code
 * spark.skippipe.train.activationCheckpointing}.
 */
public record ComputeSettings(String device, String precision, boolean activationCheckpointing)
    implements Serializable {
  /** The stage precision. */
  public Precision stagePrecision() {
    return Precision.parse(precision);
  }
}
