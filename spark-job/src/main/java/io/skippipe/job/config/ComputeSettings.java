package io.skippipe.job.config;

import io.skippipe.model.stage.Precision;
import java.io.Serializable;

/**
 * Where and how a stage computes: {@code spark.skippipe.device} (auto | cpu | gpu), {@code
 * spark.skippipe.train.precision} (fp32 | bf16) and {@code
 * spark.skippipe.train.activationCheckpointing}.
 *
 * @param activationCheckpointing the setting (default false); the run follows the plan's
 *     {@code model.activationCheckpointing}, which the driver plans with this value, or which the
 *     tuner chooses under {@code plan.skipRatio=auto} when the setting is not given
 * @param activationCheckpointingGiven whether the setting was given explicitly (then
 *     {@code plan.skipRatio=auto} searches only that value)
 */
public record ComputeSettings(String device, String precision, boolean activationCheckpointing,
    boolean activationCheckpointingGiven) implements Serializable {
  /** The stage precision. */
  public Precision stagePrecision() {
    return Precision.parse(precision);
  }
}
