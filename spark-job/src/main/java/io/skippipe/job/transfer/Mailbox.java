package io.skippipe.job.transfer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Selective receive over a {@link BlockTransport}: takes the first block matching a predicate and
 * keeps the others for later, so the transport's bounded inbox keeps draining and no sender waits on
 * a message this node is not ready for yet. Used by one thread (the node's compute thread).
 */
public final class Mailbox {
  private final BlockTransport transport;
  private final List<Block> early = new ArrayList<>();

  public Mailbox(BlockTransport transport) {
    this.transport = transport;
  }

  public BlockTransport transport() {
    return transport;
  }

  /**
   * The first block matching {@code match}, waiting at most {@code timeoutMillis}.
   *
   * @param awaiting what is awaited, for the timeout message (e.g. "ACTIVATION of microbatch 3
   *     from node 5")
   * @throws PeerFailureException on timeout (naming {@code suspect}) or peer failure
   */
  public Block take(Predicate<Block> match, long timeoutMillis, int suspect,
      Supplier<String> awaiting) throws IOException, InterruptedException {
    Block hit = poll(match);
    if (hit != null) {
      return hit;
    }
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (true) {
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        throw new PeerFailureException(suspect, "node " + transport.node() + " waited "
            + timeoutMillis + " ms for " + awaiting.get() + " and nothing came: node " + suspect
            + " is dead, stuck or too slow (spark.skippipe.transfer.readTimeoutMs)");
      }
      Block b = transport.take(left);
      if (b == null) {
        continue;
      }
      if (match.test(b)) {
        return b;
      }
      early.add(b);
    }
  }

  /** A kept block matching {@code match}, removed, or null. */
  public Block poll(Predicate<Block> match) {
    for (Iterator<Block> it = early.iterator(); it.hasNext(); ) {
      Block b = it.next();
      if (match.test(b)) {
        it.remove();
        return b;
      }
    }
    return null;
  }

  /**
   * A block matching {@code match} if one is kept or already received, without waiting; other
   * received blocks are kept.
   */
  public Block tryTake(Predicate<Block> match) throws IOException, InterruptedException {
    Block hit = poll(match);
    if (hit != null) {
      return hit;
    }
    Block b;
    while ((b = transport.take(0)) != null) {
      if (match.test(b)) {
        return b;
      }
      early.add(b);
    }
    return null;
  }

  /** Blocks received but not yet taken. */
  public int pending() {
    return early.size();
  }
}
