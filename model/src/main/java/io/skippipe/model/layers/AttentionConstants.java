package io.skippipe.model.layers;

import ai.djl.ndarray.NDArray;

/**
 * The constant (non-trainable) arrays attention needs for one sequence length T, owned by the
 * stage's manager: rotary tables, the causal mask {@code [T,T]} (0 on and below the diagonal, -inf
 * above) and the score scale {@code 1/sqrt(K)} as a scalar array.
 *
 * <p>Why the scale is an array and not a {@code mul(Number)}: DJL's PyTorch engine turns the number
 * into a tensor wrapping a Java buffer and closes it right after the op, but the autograd graph
 * keeps that tensor for the backward (d(x·s)/dx = s). Once the buffer is collected, the backward
 * multiplies gradients by whatever the memory then holds — NaN or inf gradients in training. A
 * long-lived, libtorch-owned scalar avoids it. (Ops whose backward does not read the number, such
 * as {@code add(Number)}, are safe.)
 */
public record AttentionConstants(Rotary rotary, NDArray causalMaskTT, NDArray scoreScale) {}
