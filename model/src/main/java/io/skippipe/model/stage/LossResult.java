package io.skippipe.model.stage;

/**
 * The outcome of the loss at the data node: the mean next-token cross-entropy of the microbatch
 * (natural log, unscaled) and the gradient of {@code lossScale · loss} with respect to the hidden
 * state that entered the final norm, row-major {@code [B, T, D]}.
 */
public record LossResult(float loss, float[] gradHidden) {}
