package io.skippipe.job.transfer;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The in-process {@link BlockTransport}: nodes of one {@link Network} hand blocks to each other's
 * bounded inboxes directly (no bytes, no sockets). For tests of the engine and the collectives.
 */
public final class InMemoryBlockTransport implements BlockTransport {
  /** A set of in-memory endpoints that can reach each other. */
  public static final class Network {
    private final Map<Integer, InMemoryBlockTransport> nodes = new ConcurrentHashMap<>();
    private final long run;
    private final int capacity;
    private final long writeTimeoutMillis;
    private final long maxBufferedBytes;

    /** A network with the default send deadline and buffer bound. */
    public Network(long run, int inboxCapacity) {
      this(run, inboxCapacity, 120_000, Mailbox.DEFAULT_MAX_EARLY_BYTES);
    }

    /**
     * @param writeTimeoutMillis how long a send waits for room in the receiver's inbox
     * @param maxBufferedBytes bytes an inbox takes beyond its capacity while its node sends
     */
    public Network(long run, int inboxCapacity, long writeTimeoutMillis, long maxBufferedBytes) {
      this.run = run;
      this.capacity = inboxCapacity;
      this.writeTimeoutMillis = writeTimeoutMillis;
      this.maxBufferedBytes = maxBufferedBytes;
    }

    /** The endpoint of {@code node}, created on first use. */
    public InMemoryBlockTransport endpoint(int node) {
      return nodes.computeIfAbsent(node, n -> new InMemoryBlockTransport(this, n));
    }
  }

  private final Network network;
  private final int node;
  private final Inbox inbox;
  private volatile boolean closed;

  private InMemoryBlockTransport(Network network, int node) {
    this.network = network;
    this.node = node;
    this.inbox = new Inbox(network.capacity, network.maxBufferedBytes);
  }

  @Override
  public int node() {
    return node;
  }

  @Override
  public long run() {
    return network.run;
  }

  @Override
  public void send(Block block) throws PeerFailureException {
    int to = block.header().to();
    InMemoryBlockTransport peer = network.nodes.get(to);
    if (peer == null || peer.closed) {
      throw new PeerFailureException(to, "node " + node + " cannot reach node " + to
          + ": no such endpoint in the in-memory network (or it closed)");
    }
    inbox.beginSend();
    try {
      if (!peer.inbox.put(block, TimeUnit.MILLISECONDS.toNanos(network.writeTimeoutMillis))) {
        throw new PeerFailureException(to, "node " + node + " could not hand " + block.type()
            + " to node " + to + ": its inbox stayed full for " + network.writeTimeoutMillis
            + " ms (spark.skippipe.transfer.writeTimeoutMs) — node " + to + " stopped taking");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PeerFailureException(to, "interrupted while sending to node " + to, e);
    } finally {
      inbox.endSend();
    }
  }

  @Override
  public Block take(long timeoutMillis) throws PeerFailureException, InterruptedException {
    return inbox.take(timeoutMillis);
  }

  @Override
  public void abort(String reason) {
    for (InMemoryBlockTransport peer : network.nodes.values()) {
      if (peer != this) {
        peer.inbox.fail(new PeerFailureException(node, "node " + node + " aborted: " + reason));
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    inbox.close();
  }
}
