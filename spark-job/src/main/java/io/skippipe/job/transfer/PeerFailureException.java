package io.skippipe.job.transfer;

import java.io.IOException;

/**
 * A peer is unreachable, silent past the timeout, aborted, or sent a corrupt frame. The message
 * names the peer so that the failed Spark task says which node to look at.
 */
public final class PeerFailureException extends IOException {
  private final int peer;

  public PeerFailureException(int peer, String message, Throwable cause) {
    super(message, cause);
    this.peer = peer;
  }

  public PeerFailureException(int peer, String message) {
    this(peer, message, null);
  }

  /** The node at fault, or -1 when unknown. */
  public int peer() {
    return peer;
  }
}
