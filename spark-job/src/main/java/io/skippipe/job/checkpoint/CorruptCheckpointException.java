package io.skippipe.job.checkpoint;

import java.io.IOException;

/** A checkpoint file whose size or CRC32C differs from what its writer recorded. */
public final class CorruptCheckpointException extends IOException {
  public CorruptCheckpointException(String message) {
    super(message);
  }
}
