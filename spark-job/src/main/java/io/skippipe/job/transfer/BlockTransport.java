package io.skippipe.job.transfer;

import java.io.IOException;

/**
 * Point-to-point block messaging among the nodes of one session (one chunk attempt of one run).
 *
 * <p>Contract (checked by {@code BlockTransportContractTest} on every implementation): messages from
 * one sender to one receiver arrive in send order, intact; {@link #take} returns the next message
 * from any peer; a receiver that does not take blocks its senders once its bounded inbox is full
 * (backpressure), but two nodes that send to each other while neither takes both complete (an
 * inbox whose own node is sending accepts up to {@code transfer.maxBufferedBytes} more); a
 * receiver that stops taking altogether fails its sender within {@code transfer.writeTimeoutMs};
 * a peer that aborts, dies or corrupts a frame turns into a {@link PeerFailureException} naming
 * it, never a hang.
 */
public interface BlockTransport extends AutoCloseable {
  /** This endpoint's node id. */
  int node();

  /** The session tag carried in every header's {@code run} field. */
  long run();

  /**
   * Sends a block to {@code block.header().to()}; may block under backpressure, at most
   * {@code transfer.writeTimeoutMs} without progress. Takes ownership of the block: the caller
   * must not use it afterwards (the transport closes it once sent, or hands it to the receiver).
   *
   * @throws PeerFailureException naming the receiver when it cannot be reached or stopped reading
   */
  void send(Block block) throws IOException;

  /**
   * The next block from any peer, or null when none arrives within {@code timeoutMillis}.
   *
   * @throws PeerFailureException when a peer failed (aborted, lost, corrupt frame)
   */
  Block take(long timeoutMillis) throws IOException, InterruptedException;

  /** Tells every peer this node failed (they fail too, naming it); best effort, never throws. */
  void abort(String reason);

  /** Ends the session: closes connections cleanly. Never throws for a peer already gone. */
  @Override
  void close();
}
