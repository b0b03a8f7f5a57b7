package io.skippipe.job.transfer;

import io.skippipe.job.config.ConfigKeys;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Selective receive over a {@link BlockTransport}: takes the first block matching a predicate and
 * keeps the others for later, so the transport's bounded inbox keeps draining and no sender waits on
 * a message this node is not ready for yet. Used by one thread (the node's compute thread).
 *
 * <p>The blocks kept for later (early arrivals) are bounded by {@code maxEarlyBytes}
 * ({@code spark.skippipe.transfer.maxBufferedBytes}): a node whose peers run further ahead than
 * that fails naming them, instead of growing without bound.
 */
public final class Mailbox {
  /** The default bound on early arrivals: the key's default. */
  public static final long DEFAULT_MAX_EARLY_BYTES =
      Long.parseLong(ConfigKeys.TRANSFER_MAX_BUFFERED_BYTES.defaultValue());

  private final BlockTransport transport;
  private final long maxEarlyBytes;
  private final List<Block> early = new ArrayList<>();
  private long earlyBytes;

  public Mailbox(BlockTransport transport) {
    this(transport, DEFAULT_MAX_EARLY_BYTES);
  }

  public Mailbox(BlockTransport transport, long maxEarlyBytes) {
    this.transport = transport;
    this.maxEarlyBytes = maxEarlyBytes;
  }

  public BlockTransport transport() {
    return transport;
  }

  /**
   * The first block matching {@code match}, waiting at most {@code timeoutMillis}.
   *
   * @param awaiting what is awaited, for the timeout message (e.g. "ACTIVATION of microbatch 3
   *     from node 5")
   * @throws PeerFailureException on timeout (naming {@code suspect}), peer failure, or when the
   *     early arrivals exceed their bound
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
      keep(b);
    }
  }

  /** A kept block matching {@code match}, removed, or null. */
  public Block poll(Predicate<Block> match) {
    for (Iterator<Block> it = early.iterator(); it.hasNext(); ) {
      Block b = it.next();
      if (match.test(b)) {
        it.remove();
        earlyBytes -= Inbox.footprint(b);
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
      keep(b);
    }
    return null;
  }

  /** Blocks received but not yet taken. */
  public int pending() {
    return early.size();
  }

  private void keep(Block b) throws PeerFailureException {
    early.add(b);
    earlyBytes += Inbox.footprint(b);
    if (earlyBytes <= maxEarlyBytes) {
      return;
    }
    Map<Integer, Long> bySender = new TreeMap<>();
    for (Block e : early) {
      bySender.merge(e.header().from(), Inbox.footprint(e), Long::sum);
    }
    int top = bySender.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow()
        .getKey();
    throw new PeerFailureException(top, "node " + transport.node() + " holds " + earlyBytes
        + " bytes in " + early.size() + " blocks that arrived before it needed them (bytes by"
        + " sender: " + bySender + "), over spark.skippipe.transfer.maxBufferedBytes="
        + maxEarlyBytes + ": node " + top + " runs further ahead of this node than the schedule"
        + " allows, or sends blocks nobody takes");
  }
}
