package io.skippipe.job.task.chunk;

import java.io.Serializable;

/**
 * One side of one pipeline message, for measuring hop times: the sender records when it handed
 * the message to the transport ({@code sentMicros}, {@code arrivedMicros} = -1); the receiver
 * records when it arrived ({@code arrivedMicros}, {@code sentMicros} = -1) — only when the receiver
 * was blocked waiting for it, so the arrival time is exact and not delayed by the receiver's own
 * compute. The driver joins the two sides on (from, to, iteration, microbatch, gradient): hop
 * seconds = arrival − send, on the wall clocks of two machines (their offset is part of the
 * measured latency).
 *
 * @param gradient an {@code ACTIVATION_GRAD} (backward) rather than an {@code ACTIVATION}
 * @param bytes payload bytes on the wire
 */
public record MessageTiming(int from, int to, int iteration, int microbatch, boolean gradient,
    long bytes, long sentMicros, long arrivedMicros) implements Serializable {
  /** The key both sides of one message share. */
  public String key() {
    return from + ">" + to + "@" + iteration + "/" + microbatch + (gradient ? "g" : "a");
  }
}
