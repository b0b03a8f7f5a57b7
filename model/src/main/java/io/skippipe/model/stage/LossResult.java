package io.skippipe.model.stage;

/**
 * The outcome of the loss at the data node: the mean next-token cross-entropy of the microbatch
 * (natural log, unscaled) and the gradient of {@code lossScale · loss} with respect to the hidden
 * state that entered the final norm, row-major {@code [B, T, D]}.
 *
 * @param <G> how the gradient is held: {@code float[]} (float32 values) from the host-array API,
 *     {@link java.nio.ByteBuffer} (the stage's wire form, see {@link Precision#encode}) from the
 *     buffer API
 */
public record LossResult<G>(float loss, G gradHidden) {}
