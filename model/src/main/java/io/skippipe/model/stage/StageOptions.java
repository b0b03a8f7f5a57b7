package io.skippipe.model.stage;

import ai.djl.Device;

/**
 * How a stage runs, as opposed to what it computes ({@link io.skippipe.model.LlamaConfig}).
 *
 * @param device where every array of the stage lives (weights, activations, gradients, optimizer
 *     state); host copies are made only at the host-buffer API
 * @param precision compute precision ({@link Precision})
 * @param activationCheckpointing keep only each microbatch's stage input between forward and
 *     backward and recompute the forward during the backward (memory for compute: backward costs
 *     a forward more)
 * @param maxInFlight microbatches a stage may hold between forward and backward (the node's memory
 *     cap), {@code >= 1}
 */
public record StageOptions(
    Device device, Precision precision, boolean activationCheckpointing, int maxInFlight) {
  /** No cap on microbatches in flight. */
  public static final int UNLIMITED = Integer.MAX_VALUE;

  /** Checks the fields. */
  public StageOptions {
    if (device == null || precision == null) {
      throw new IllegalArgumentException("StageOptions needs a device and a precision");
    }
    if (maxInFlight < 1) {
      throw new IllegalArgumentException(
          "maxInFlight "
              + maxInFlight
              + " must be >= 1 (microbatches a stage may hold between "
              + "forward and backward); use the node's memory cap or StageOptions.UNLIMITED.");
    }
  }

  /** CPU, float32, no activation checkpointing, no cap. */
  public static StageOptions defaults() {
    return new StageOptions(Device.cpu(), Precision.FP32, false, UNLIMITED);
  }

  public StageOptions withDevice(Device d) {
    return new StageOptions(d, precision, activationCheckpointing, maxInFlight);
  }

  public StageOptions withPrecision(Precision p) {
    return new StageOptions(device, p, activationCheckpointing, maxInFlight);
  }

  public StageOptions withActivationCheckpointing(boolean on) {
    return new StageOptions(device, precision, on, maxInFlight);
  }

  public StageOptions withMaxInFlight(int n) {
    return new StageOptions(device, precision, activationCheckpointing, n);
  }
}
