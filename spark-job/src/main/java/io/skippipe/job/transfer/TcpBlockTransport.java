package io.skippipe.job.transfer;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The TCP {@link BlockTransport}: one session of a {@link TcpBlockServer}. Outbound connections are
 * opened on first send to a peer (one per peer, authenticated), carry frames in one direction and
 * heartbeats while idle; inbound blocks arrive through the server into this session's bounded inbox.
 */
public final class TcpBlockTransport implements BlockTransport {
  private final TcpBlockServer server;
  private final long run;
  private final int node;
  private final Map<Integer, InetSocketAddress> peers;
  private final Inbox inbox;
  private final Map<Integer, Outbound> outbound = new ConcurrentHashMap<>();
  private final ScheduledExecutorService heartbeat;
  private volatile boolean closed;

  /** One authenticated outbound connection. */
  private static final class Outbound {
    final Socket socket;
    final DataOutputStream out;
    final ReentrantLock lock = new ReentrantLock();
    volatile long lastWriteNanos = System.nanoTime();

    Outbound(Socket socket, DataOutputStream out) {
      this.socket = socket;
      this.out = out;
    }
  }

  TcpBlockTransport(TcpBlockServer server, long run, int node,
      Map<Integer, InetSocketAddress> peers) {
    this.server = server;
    this.run = run;
    this.node = node;
    this.peers = Map.copyOf(peers);
    this.inbox = new Inbox(server.config().queueCapacity());
    int hb = server.config().heartbeatMillis();
    this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "skippipe-heartbeat-" + node);
      t.setDaemon(true);
      return t;
    });
    heartbeat.scheduleWithFixedDelay(this::beat, hb, hb, TimeUnit.MILLISECONDS);
  }

  @Override
  public int node() {
    return node;
  }

  @Override
  public long run() {
    return run;
  }

  boolean isClosed() {
    return closed;
  }

  void deliver(Block b) throws InterruptedException {
    inbox.put(b);
  }

  void inboundFailure(PeerFailureException e) {
    inbox.fail(e);
  }

  @Override
  public void send(Block block) throws IOException {
    int to = block.header().to();
    if (to == node) {
      try {
        inbox.put(block);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new PeerFailureException(to, "interrupted while sending to itself", e);
      }
      return;
    }
    Outbound o = connection(to);
    o.lock.lock();
    try {
      FrameCodec.write(o.out, block);
      o.out.flush();
      o.lastWriteNanos = System.nanoTime();
    } catch (IOException e) {
      throw new PeerFailureException(to, "node " + node + " failed sending " + block.type()
          + " to node " + to + " at " + peers.get(to) + ": " + e, e);
    } finally {
      o.lock.unlock();
    }
  }

  private Outbound connection(int to) throws PeerFailureException {
    Outbound o = outbound.get(to);
    if (o != null) {
      return o;
    }
    synchronized (outbound) {
      o = outbound.get(to);
      if (o == null) {
        o = connect(to);
        outbound.put(to, o);
      }
      return o;
    }
  }

  private Outbound connect(int to) throws PeerFailureException {
    InetSocketAddress addr = peers.get(to);
    if (addr == null) {
      throw new PeerFailureException(to, "node " + node + " has no address for node " + to
          + " (known peers: " + peers.keySet() + ")");
    }
    if (closed) {
      throw new PeerFailureException(to, "session of node " + node + " is closed");
    }
    int timeout = server.config().connectTimeoutMillis();
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.connect(addr, timeout);
      s.setSoTimeout(timeout);
      DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(),
          1 << 16));
      DataInputStream in = new DataInputStream(s.getInputStream());
      Handshake.connect(in, out, server.secret(), new Handshake.Hello(run, node, to));
      s.setSoTimeout(0);
      return new Outbound(s, out);
    } catch (IOException e) {
      TcpBlockServer.closeQuietly(s);
      throw new PeerFailureException(to, "node " + node + " cannot reach node " + to + " at "
          + addr + " within " + timeout + " ms (spark.skippipe.transfer.connectTimeoutMs): " + e,
          e);
    }
  }

  private void beat() {
    long idleNanos = server.config().heartbeatMillis() * 1_000_000L;
    for (Map.Entry<Integer, Outbound> e : outbound.entrySet()) {
      Outbound o = e.getValue();
      if (System.nanoTime() - o.lastWriteNanos < idleNanos || !o.lock.tryLock()) {
        continue;
      }
      try {
        FrameCodec.write(o.out, Block.empty(BlockType.HEARTBEAT, run, -1, -1, node, e.getKey()));
        o.out.flush();
        o.lastWriteNanos = System.nanoTime();
      } catch (IOException ex) {
        // the next send to this peer reports the broken connection, naming it
      } finally {
        o.lock.unlock();
      }
    }
  }

  @Override
  public Block take(long timeoutMillis) throws IOException, InterruptedException {
    return inbox.take(timeoutMillis);
  }

  @Override
  public void abort(String reason) {
    byte[] why = reason.getBytes(StandardCharsets.UTF_8);
    for (int peer : peers.keySet()) {
      if (peer == node) {
        continue;
      }
      try {
        send(new Block(BlockType.ABORT, new BlockHeader(run, -1, -1, node, peer, DType.BYTES,
            new long[] {why.length}, why.length), why));
      } catch (IOException | RuntimeException e) {
        // best effort: a peer we cannot reach learns of the failure from its own timeout
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    heartbeat.shutdownNow();
    for (Map.Entry<Integer, Outbound> e : outbound.entrySet()) {
      Outbound o = e.getValue();
      o.lock.lock();
      try {
        FrameCodec.write(o.out, Block.empty(BlockType.CLOSE, run, -1, -1, node, e.getKey()));
        o.out.flush();
      } catch (IOException ex) {
        // the peer is already gone; nothing to tell it
      } finally {
        o.lock.unlock();
        TcpBlockServer.closeQuietly(o.socket);
      }
    }
    outbound.clear();
    inbox.close();
    server.sessionClosed(this);
  }

  /** Messages waiting in this session's inbox (for tests and metrics). */
  public int queued() {
    return inbox.size();
  }
}
