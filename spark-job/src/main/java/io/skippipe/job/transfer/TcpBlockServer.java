package io.skippipe.job.transfer;

import io.skippipe.job.config.TransferConfig;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task slot's block server: a server socket that outlives chunks, so its address is exchanged
 * once at rendezvous. Each chunk attempt opens a session ({@link #openSession}); inbound connections
 * authenticate ({@link Handshake}), then wait for the session they name and feed its inbox.
 *
 * <p>Anything that fails the handshake (wrong secret, garbage bytes, silence) is logged and dropped;
 * the server keeps accepting.
 */
public final class TcpBlockServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TcpBlockServer.class);

  private final TransferConfig cfg;
  private final byte[] secret;
  private final ServerSocket serverSocket;
  private final ExecutorService connections;
  private final Thread acceptor;
  private final AtomicInteger rejected = new AtomicInteger();
  private volatile TcpBlockTransport session;
  private volatile boolean closed;

  /** Binds {@code cfg.bindHost():cfg.port()} (loopback when bindHost is empty) and starts accepting. */
  public TcpBlockServer(TransferConfig cfg, byte[] secret) throws IOException {
    if (secret == null || secret.length == 0) {
      throw new IllegalArgumentException("the block transfer needs a non-empty run secret");
    }
    this.cfg = cfg;
    this.secret = secret.clone();
    InetAddress bind = cfg.bindHost().isEmpty() ? InetAddress.getLoopbackAddress()
        : InetAddress.getByName(cfg.bindHost());
    this.serverSocket = new ServerSocket(cfg.port(), 128, bind);
    this.connections = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "skippipe-block-conn");
      t.setDaemon(true);
      return t;
    });
    this.acceptor = new Thread(this::acceptLoop, "skippipe-block-accept-" + serverSocket.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The address peers connect to. */
  public InetSocketAddress address() {
    return new InetSocketAddress(serverSocket.getInetAddress().getHostAddress(),
        serverSocket.getLocalPort());
  }

  /** Connections dropped because they failed the handshake. */
  public int rejectedConnections() {
    return rejected.get();
  }

  TransferConfig config() {
    return cfg;
  }

  byte[] secret() {
    return secret;
  }

  /**
   * Starts the session of one chunk attempt: this slot is {@code node}, peers are at {@code peers}.
   * A previous session must be closed first.
   */
  public synchronized TcpBlockTransport openSession(long run, int node,
      Map<Integer, InetSocketAddress> peers) {
    if (session != null && !session.isClosed()) {
      throw new IllegalStateException("block server " + address() + " already serves session run="
          + session.run() + " as node " + session.node());
    }
    session = new TcpBlockTransport(this, run, node, peers);
    return session;
  }

  synchronized void sessionClosed(TcpBlockTransport s) {
    if (session == s) {
      session = null;
    }
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket s = serverSocket.accept();
        connections.execute(() -> serve(s));
      } catch (IOException e) {
        if (!closed) {
          LOG.warn("block server {} accept failed: {}", address(), e.toString());
        }
      }
    }
  }

  private void serve(Socket socket) {
    String remote = String.valueOf(socket.getRemoteSocketAddress());
    Handshake.Hello hello;
    DataInputStream in;
    try {
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(cfg.connectTimeoutMillis());
      in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
      DataOutputStream out = new DataOutputStream(socket.getOutputStream());
      hello = Handshake.serve(in, out, secret);
    } catch (IOException e) {
      rejected.incrementAndGet();
      LOG.warn("block server {} dropped an unauthenticated connection from {}: {}", address(),
          remote, e.getMessage());
      closeQuietly(socket);
      return;
    }
    TcpBlockTransport target = awaitSession(hello);
    if (target == null) {
      LOG.warn("block server {}: no session run={} node={} opened within {} ms for node {} ({});"
          + " dropping the connection", address(), hello.run(), hello.to(),
          cfg.readTimeoutMillis(), hello.from(), remote);
      closeQuietly(socket);
      return;
    }
    readLoop(socket, in, hello, target, remote);
  }

  private TcpBlockTransport awaitSession(Handshake.Hello hello) {
    long deadline = System.nanoTime() + cfg.readTimeoutMillis() * 1_000_000L;
    while (!closed && System.nanoTime() < deadline) {
      TcpBlockTransport s = session;
      if (s != null && !s.isClosed() && s.run() == hello.run() && s.node() == hello.to()) {
        return s;
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    return null;
  }

  private void readLoop(Socket socket, DataInputStream in, Handshake.Hello hello,
      TcpBlockTransport target, String remote) {
    int from = hello.from();
    try {
      socket.setSoTimeout(cfg.readTimeoutMillis());
      while (true) {
        Block b = FrameCodec.read(in, cfg.maxFrameBytes());
        if (b.header().run() != hello.run() || b.header().from() != from) {
          throw new CorruptFrameException("frame claims run " + b.header().run() + " from node "
              + b.header().from() + " on the connection of run " + hello.run() + " from node "
              + from);
        }
        switch (b.type()) {
          case HEARTBEAT:
            continue;
          case CLOSE:
            return;
          case ABORT:
            target.inboundFailure(new PeerFailureException(from, "node " + from + " ("
                + remote + ") aborted: " + new String(b.payload(),
                java.nio.charset.StandardCharsets.UTF_8)));
            return;
          default:
            target.deliver(b);
        }
      }
    } catch (SocketTimeoutException e) {
      target.inboundFailure(new PeerFailureException(from, "node " + from + " (" + remote
          + ") was silent for " + cfg.readTimeoutMillis() + " ms, heartbeats included: it is"
          + " dead or hung (spark.skippipe.transfer.readTimeoutMs)", e));
    } catch (CorruptFrameException e) {
      LOG.warn("block server {}: corrupt frame from node {} ({}): {}; dropping the connection",
          address(), from, remote, e.getMessage());
      target.inboundFailure(new PeerFailureException(from, "corrupt frame from node " + from
          + " (" + remote + "): " + e.getMessage(), e));
    } catch (EOFException e) {
      if (!target.isClosed()) {
        target.inboundFailure(new PeerFailureException(from, "connection from node " + from + " ("
            + remote + ") ended without CLOSE: the peer's task died", e));
      }
    } catch (IOException e) {
      if (!target.isClosed()) {
        target.inboundFailure(new PeerFailureException(from, "connection from node " + from + " ("
            + remote + ") failed: " + e, e));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closeQuietly(socket);
    }
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing a socket that is already broken has nothing to report
    }
  }

  @Override
  public void close() {
    closed = true;
    TcpBlockTransport s = session;
    if (s != null) {
      s.close();
    }
    try {
      serverSocket.close();
    } catch (IOException e) {
      LOG.debug("closing block server socket: {}", e.toString());
    }
    connections.shutdownNow();
  }
}
