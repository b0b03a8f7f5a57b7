package io.skippipe.job.task.chunk;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes of activations and activation gradients this JVM's nodes handed to the block transfer
 * (payloads of {@code ACTIVATION} and {@code ACTIVATION_GRAD} blocks, in the wire dtype; headers and
 * framing not counted). In local mode every node runs in one JVM, so this is the run's traffic;
 * {@code bench scale} reads it to show that bf16 halves the bytes on the wire.
 */
public final class ActivationTraffic {
  private static final AtomicLong SENT = new AtomicLong();

  private ActivationTraffic() {}

  /** Counts one block's payload. */
  static void sent(long payloadBytes) {
    SENT.addAndGet(payloadBytes);
  }

  /** Payload bytes sent so far by this JVM. */
  public static long total() {
    return SENT.get();
  }
}
