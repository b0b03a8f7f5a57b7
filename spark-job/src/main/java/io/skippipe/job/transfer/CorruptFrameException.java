package io.skippipe.job.transfer;

import java.io.IOException;

/** A frame that cannot be trusted: bad type, bad header, oversized payload or CRC32C mismatch. */
public final class CorruptFrameException extends IOException {
  public CorruptFrameException(String message) {
    super(message);
  }
}
