package io.skippipe.job.task.peer;

import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockHeader;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.DType;
import io.skippipe.job.transfer.PeerFailureException;
import java.io.IOException;
import java.io.Serializable;
import java.util.Arrays;

/**
 * The all-pairs network probe run inside the rendezvous (network.mode=probe): every node measures
 * every other node over the block transfer itself, so the numbers include framing, CRC32C and the
 * socket path that training uses.
 *
 * <p>Per peer, one node at a time (in the order me+1, me+2, … so that the nodes start on different
 * peers): one warm-up ping that opens and authenticates the connection (not counted), then
 * {@code pings} ping-pong round trips of {@code pingBytes} (median kept), then one bulk message of
 * {@code bulkBytes} answered by an empty acknowledgement. While waiting for its own answers a node
 * answers the requests of the others. When it has measured everyone it tells every peer FINISHED
 * and keeps answering until it has heard FINISHED from every peer; then nobody needs it any more.
 *
 * <p>Every message is a {@link BlockType#PROBE} block; the header's {@code iteration} field holds
 * the probe message kind and {@code microbatch} a sequence number matching request and answer.
 */
public final class NetworkProbe {
  private NetworkProbe() {}

  static final int PING = 0;
  static final int PONG = 1;
  static final int BULK = 2;
  static final int BULK_ACK = 3;
  static final int FINISHED = 4;

  /**
   * How much to measure.
   *
   * @param pings ping-pong round trips per peer; the median is kept
   * @param pingBytes payload of each ping and pong
   * @param bulkBytes payload of the one bandwidth message per peer
   * @param timeoutMillis bound on the whole probe of one node
   */
  public record Settings(int pings, int pingBytes, int bulkBytes, int timeoutMillis)
      implements Serializable {
    public Settings {
      if (pings < 1 || pingBytes < 0 || bulkBytes < 1 || timeoutMillis < 1) {
        throw new IllegalArgumentException("probe settings out of range: pings=" + pings
            + " pingBytes=" + pingBytes + " bulkBytes=" + bulkBytes + " timeoutMillis="
            + timeoutMillis);
      }
    }
  }

  /** Measures every peer of {@code transport.node()} among {@code nodes} nodes; returns its row. */
  public static ProbeRow measure(BlockTransport transport, int nodes, Settings s)
      throws IOException, InterruptedException {
    return new Session(transport, nodes, s).run();
  }

  /** The state of one node's probe: its own sequence numbers and the FINISHED it has heard. */
  private static final class Session {
    final BlockTransport t;
    final int n;
    final int me;
    final Settings s;
    final long deadlineNanos;
    final boolean[] finished;
    int finishedCount;
    int seq;

    Session(BlockTransport t, int n, Settings s) {
      this.t = t;
      this.n = n;
      this.me = t.node();
      this.s = s;
      this.deadlineNanos = System.nanoTime() + s.timeoutMillis() * 1_000_000L;
      this.finished = new boolean[n];
    }

    ProbeRow run() throws IOException, InterruptedException {
      long[] rtt = new long[n];
      long[] bulk = new long[n];
      byte[] ping = new byte[s.pingBytes()];
      byte[] payload = new byte[s.bulkBytes()];
      for (int k = 1; k < n; k++) {
        int peer = (me + k) % n;
        roundTrip(peer, PING, PONG, ping); // warm-up: connect + handshake, not counted
        long[] samples = new long[s.pings()];
        for (int i = 0; i < samples.length; i++) {
          samples[i] = roundTrip(peer, PING, PONG, ping);
        }
        Arrays.sort(samples);
        rtt[peer] = samples[samples.length / 2];
        bulk[peer] = roundTrip(peer, BULK, BULK_ACK, payload);
      }
      for (int peer = 0; peer < n; peer++) {
        if (peer != me) {
          t.send(message(FINISHED, 0, peer, new byte[0]));
        }
      }
      while (finishedCount < n - 1) {
        serve(next("FINISHED from every peer (heard " + finishedCount + " of " + (n - 1) + ")"));
      }
      return new ProbeRow(me, rtt, bulk, s.bulkBytes());
    }

    /** Sends a request and waits for its answer, answering others meanwhile; returns micros. */
    long roundTrip(int peer, int kind, int answer, byte[] payload)
        throws IOException, InterruptedException {
      int mySeq = ++seq;
      long start = System.nanoTime();
      t.send(message(kind, mySeq, peer, payload));
      while (true) {
        Block b = next("the answer of node " + peer);
        BlockHeader h = b.header();
        if (h.iteration() == answer && h.from() == peer && h.microbatch() == mySeq) {
          return Math.max(1, (System.nanoTime() - start) / 1_000);
        }
        serve(b);
      }
    }

    /** Handles a message that is not the answer being waited for. */
    void serve(Block b) throws IOException {
      BlockHeader h = b.header();
      switch (h.iteration()) {
        case PING -> t.send(message(PONG, h.microbatch(), h.from(), b.payload()));
        case BULK -> t.send(message(BULK_ACK, h.microbatch(), h.from(), new byte[0]));
        case FINISHED -> {
          if (!finished[h.from()]) {
            finished[h.from()] = true;
            finishedCount++;
          }
        }
        default -> throw new IllegalStateException("node " + me + " got an unexpected probe"
            + " message " + b + " (answers arrive only for the one request in flight)");
      }
    }

    Block next(String waitingFor) throws IOException, InterruptedException {
      while (true) {
        long left = (deadlineNanos - System.nanoTime()) / 1_000_000L;
        if (left <= 0) {
          throw new IOException("network probe of node " + me + " exceeded "
              + s.timeoutMillis() + " ms (spark.skippipe.network.probeTimeoutMs) waiting for "
              + waitingFor);
        }
        Block b = t.take(Math.min(left, 1_000));
        if (b == null) {
          continue;
        }
        if (b.type() != BlockType.PROBE || b.header().from() < 0 || b.header().from() >= n) {
          throw new PeerFailureException(b.header().from(), "node " + me + " got " + b
              + " during the network probe; only PROBE blocks belong to this session");
        }
        return b;
      }
    }

    Block message(int kind, int sequence, int to, byte[] payload) {
      return new Block(BlockType.PROBE, new BlockHeader(t.run(), kind, sequence, me, to,
          DType.BYTES, new long[] {payload.length}, payload.length), payload);
    }
  }
}
