package io.skippipe.job.transfer;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.skippipe.job.config.TransferConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task slot's block server: a listening socket that outlives chunks, so its address (and,
 * with encryption, its certificate fingerprint) is exchanged once at rendezvous. Each chunk
 * attempt opens a session ({@link #openSession}); inbound connections authenticate, wait for the
 * session they name and feed its inbox.
 *
 * <p>Implementation notes — why Netty. The first transfer used blocking sockets with a thread per
 * connection, a per-read timeout and hand-rolled framing; each hardening step (total handshake
 * deadline, bounded threads, TLS, idle detection, bounded decoding) would have added more of the
 * same. Netty, which Spark ships and moves its own blocks with (so it adds nothing to the jar),
 * provides each of them as a maintained part: event loops (a fixed thread count however many
 * connections arrive), timers on the event loop (the total deadlines), {@code SslHandler} (TLS
 * over non-blocking sockets, with OpenSSL when Spark's netty-tcnative loads) and direct buffers
 * written with gathering writes. What stays ours is the protocol: the frame format and its
 * incremental {@link FrameDecoder} (the bounds check comes before any allocation, the CRC32C is
 * computed while copying), the {@link Handshake}, certificate pinning ({@link TransferTls}), the
 * bounded {@link Inbox} with its backpressure and deadlock rule, and the emulated links. Netty's
 * {@code LengthFieldBasedFrameDecoder} and {@code ReadTimeoutHandler} were weighed and not used:
 * the first accumulates a whole frame in its own buffer and then copies it (two copies of every
 * activation instead of one), the second counts a silence that our own backpressure causes
 * (reads paused while the inbox is full) as the peer's fault; {@link InboundConnection} does both
 * jobs without those costs.
 *
 * <p>Bounds on a connection before it reaches a session:
 * <ul>
 *   <li>the TLS handshake (when on) and the HMAC challenge must complete within
 *       {@code connectTimeoutMs} of the accept <i>in total</i>, whatever the pace of the bytes
 *       (a slow-loris that drips one byte a second is closed at the bound);
 *   <li>at most {@code maxPendingConnections} connections are held unauthenticated or waiting
 *       for their session; more are closed at once;
 *   <li>the handshake messages have fixed sizes, so no peer-given length is used before the peer
 *       authenticated; frames are then decoded with the header-length and payload-length bounds
 *       checked before any buffer is taken.
 * </ul>
 * An authenticated connection whose session is not open yet is acknowledged and parked (reads
 * paused, so its sender sees TCP backpressure) for up to {@code readTimeoutMs}; with encryption,
 * its certificate is checked against the fingerprint its node published when the session opens.
 * Everything that fails is logged and dropped; the server keeps accepting.
 */
public final class TcpBlockServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TcpBlockServer.class);

  private final TransferConfig cfg;
  private final byte[] secret;
  private final TransferTls tls;
  private final Channel serverChannel;
  private final InetSocketAddress address;
  private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final AtomicInteger rejected = new AtomicInteger();
  private final AtomicInteger pending = new AtomicInteger();
  private final List<Parked> parked = new ArrayList<>(); // guarded by this
  private volatile TcpBlockTransport session;
  private volatile boolean closed;
  private volatile long floodWarnedNanos;

  /** An authenticated connection waiting for its session. */
  private record Parked(Channel channel, Handshake.Hello hello, String certSha256, Pending entry,
      ScheduledFuture<?> timeout) {}

  /**
   * Binds {@code cfg.bindHost():cfg.port()} (loopback when bindHost is empty) and starts
   * accepting; with encryption on, first creates this server's key pair and certificate.
   *
   * @throws IOException when the address cannot be bound
   */
  public TcpBlockServer(TransferConfig cfg, byte[] secret) throws IOException {
    if (secret == null || secret.length == 0) {
      throw new IllegalArgumentException("the block transfer needs a non-empty run secret");
    }
    this.cfg = cfg;
    this.secret = secret.clone();
    this.tls = cfg.encrypted() ? TransferTls.generate() : null;
    InetAddress bind = cfg.bindHost().isEmpty() ? InetAddress.getLoopbackAddress()
        : InetAddress.getByName(cfg.bindHost());
    EventLoops.acquire(cfg.effectiveIoThreads());
    try {
      ServerBootstrap b = new ServerBootstrap()
          .group(EventLoops.accept(), EventLoops.io())
          .channel(NioServerSocketChannel.class)
          .option(ChannelOption.SO_BACKLOG, 128)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              accepted(ch);
            }
          });
      this.serverChannel = bind(b, bind, cfg.port());
    } catch (IOException | RuntimeException e) {
      EventLoops.release();
      throw e;
    }
    InetSocketAddress local = (InetSocketAddress) serverChannel.localAddress();
    this.address = new InetSocketAddress(local.getAddress().getHostAddress(), local.getPort());
  }

  /** Ports tried from a fixed base {@code transfer.port}, as Spark's spark.port.maxRetries. */
  public static final int PORT_RETRIES = 64;

  /**
   * Binds {@code port} (0 = any free port), or with a fixed base port the first free one of
   * {@code port .. port + PORT_RETRIES - 1}: every task slot of a JVM runs its own server, so the
   * slots of one executor take consecutive ports (Spark's own fixed ports work the same way).
   */
  private static Channel bind(ServerBootstrap b, InetAddress host, int port) throws IOException {
    int tries = port == 0 ? 1 : PORT_RETRIES;
    Exception last = null;
    for (int i = 0; i < tries && port + i <= 65535; i++) {
      try {
        return b.bind(host, port == 0 ? 0 : port + i).syncUninterruptibly().channel();
      } catch (Exception e) { // Netty rethrows the bind's checked exception undeclared
        last = e;
      }
    }
    throw new IOException(port == 0 ? "block server cannot bind " + host + ": " + last
        : "block server cannot bind " + host + " on any port of " + port + ".."
            + Math.min(65535, port + tries - 1) + " (spark.skippipe.transfer.port=" + port
            + " is a base port; each task slot takes the next free one): " + last, last);
  }

  /** The address peers connect to. */
  public InetSocketAddress address() {
    return address;
  }

  /** SHA-256 fingerprint of this server's certificate (lower-case hex); empty without TLS. */
  public String certSha256() {
    return tls == null ? "" : tls.certSha256();
  }

  /** Connections dropped: failed or late handshakes, bound exceeded, certificate not pinned. */
  public int rejectedConnections() {
    return rejected.get();
  }

  /** Connections accepted that have not yet reached a session (for tests and metrics). */
  public int pendingConnections() {
    return pending.get();
  }

  TransferConfig config() {
    return cfg;
  }

  byte[] secret() {
    return secret;
  }

  TransferTls tls() {
    return tls;
  }

  /** Opens a plain-text session (a server without encryption); see the four-argument form. */
  public TcpBlockTransport openSession(long run, int node, Map<Integer, InetSocketAddress> peers) {
    if (tls != null) {
      throw new IllegalStateException("block server " + address + " encrypts: open the session"
          + " with every peer's certificate fingerprint (openSession(run, node, peers, pins))");
    }
    return openSession(run, node, peers, Map.of());
  }

  /**
   * Starts the session of one chunk attempt: this slot is {@code node}, peers are at
   * {@code peers}, and (with encryption) present the certificates whose fingerprints are
   * {@code certSha256}. A previous session must be closed first.
   */
  public TcpBlockTransport openSession(long run, int node, Map<Integer, InetSocketAddress> peers,
      Map<Integer, String> certSha256) {
    TcpBlockTransport s;
    List<Parked> ready = new ArrayList<>();
    synchronized (this) {
      if (session != null && !session.isClosed()) {
        throw new IllegalStateException("block server " + address + " already serves session"
            + " run=" + session.run() + " as node " + session.node());
      }
      s = new TcpBlockTransport(this, run, node, peers, certSha256);
      session = s;
      parked.removeIf(p -> s.serves(p.hello()) && ready.add(p));
    }
    for (Parked p : ready) {
      p.timeout().cancel(false);
      p.channel().eventLoop().execute(() -> attach(s, p.channel(), p.hello(), p.certSha256(),
          p.entry(), false));
    }
    return s;
  }

  synchronized void sessionClosed(TcpBlockTransport s) {
    if (session == s) {
      session = null;
    }
  }

  /** A new connection: counts it against the bound and arms its handshake deadline. */
  private void accepted(SocketChannel ch) {
    if (closed) {
      ch.close();
      return;
    }
    channels.add(ch);
    if (pending.incrementAndGet() > cfg.maxPendingConnections()) {
      pending.decrementAndGet();
      rejected.incrementAndGet();
      long now = System.nanoTime();
      if (now - floodWarnedNanos > 10_000_000_000L) {
        floodWarnedNanos = now;
        LOG.warn("block server {}: {} connections await authentication or their session"
            + " (spark.skippipe.transfer.maxPendingConnections); closing new ones, e.g. from {}"
            + " ({} dropped so far)", address, cfg.maxPendingConnections(), ch.remoteAddress(),
            rejected.get());
      }
      ch.close();
      return;
    }
    Pending p = new Pending();
    p.deadline = ch.eventLoop().schedule(() -> drop(ch, "the TLS and HMAC handshake did not"
        + " complete within " + cfg.connectTimeoutMillis()
        + " ms (spark.skippipe.transfer.connectTimeoutMs)"), cfg.connectTimeoutMillis(),
        TimeUnit.MILLISECONDS);
    ch.closeFuture().addListener(f -> p.settle());
    if (tls != null) {
      ch.pipeline().addLast("tls", tls.serverContext().newHandler(ch.alloc()));
    } else {
      ch.config().setRecvByteBufAllocator(new DirectReadAllocator());
    }
    ch.pipeline().addLast("handshake", new ServerHandshake(p));
  }

  /** The pending-count entry of one connection: released once, on attach or close. */
  private final class Pending {
    ScheduledFuture<?> deadline;
    private boolean settled;

    synchronized void settle() {
      if (!settled) {
        settled = true;
        pending.decrementAndGet();
        deadline.cancel(false);
      }
    }
  }

  private void drop(Channel ch, String why) {
    if (!ch.isOpen()) {
      return;
    }
    rejected.incrementAndGet();
    LOG.warn("block server {} dropped a connection from {}: {}", address, ch.remoteAddress(), why);
    ch.close();
  }

  /** Server side of the {@link Handshake}, after the TLS handshake when encryption is on. */
  private final class ServerHandshake extends ChannelInboundHandlerAdapter {
    private final Pending pendingEntry;
    private final byte[] answer = new byte[Handshake.ANSWER_BYTES];
    private byte[] challenge;
    private int got;

    ServerHandshake(Pending pendingEntry) {
      this.pendingEntry = pendingEntry;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      if (tls == null) {
        challenge(ctx);
      }
      ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof SslHandshakeCompletionEvent e) {
        if (e.isSuccess()) {
          challenge(ctx);
        } else {
          drop(ctx.channel(), "TLS handshake failed: " + e.cause());
        }
      }
    }

    private void challenge(ChannelHandlerContext ctx) {
      challenge = Handshake.challenge();
      ctx.writeAndFlush(Unpooled.wrappedBuffer(challenge));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf in = (ByteBuf) msg;
      try {
        if (challenge == null) {
          drop(ctx.channel(), "sent bytes before the challenge");
          return;
        }
        int n = Math.min(in.readableBytes(), answer.length - got);
        in.readBytes(answer, got, n);
        got += n;
        if (got < answer.length) {
          return;
        }
        if (in.isReadable()) {
          drop(ctx.channel(), "sent bytes before its handshake was accepted");
          return;
        }
        Handshake.Hello hello;
        try {
          hello = Handshake.verify(secret, challenge, answer);
        } catch (IOException e) {
          drop(ctx.channel(), e.getMessage());
          return;
        }
        String cert = null;
        if (tls != null) {
          try {
            cert = TransferTls.sha256(ctx.pipeline().get(SslHandler.class).engine().getSession()
                .getPeerCertificates()[0]);
          } catch (IOException e) {
            drop(ctx.channel(), "no client certificate: " + e);
            return;
          }
        }
        pendingEntry.deadline.cancel(false);
        ctx.channel().config().setAutoRead(false);
        ctx.pipeline().remove(this);
        arrived(ctx.channel(), hello, cert, pendingEntry);
      } finally {
        in.release();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      drop(ctx.channel(), "failed during the handshake: " + cause);
    }
  }

  /** An authenticated connection: attach it to its session now, or park it until it opens. */
  private void arrived(Channel ch, Handshake.Hello hello, String cert, Pending entry) {
    TcpBlockTransport s;
    synchronized (this) {
      s = session;
      if (s == null || !s.serves(hello)) {
        ScheduledFuture<?> timeout = ch.eventLoop().schedule(() -> {
          synchronized (this) {
            parked.removeIf(p -> p.channel() == ch);
          }
          drop(ch, "no session run=" + hello.run() + " node=" + hello.to() + " opened within "
              + cfg.readTimeoutMillis() + " ms for node " + hello.from()
              + " (spark.skippipe.transfer.readTimeoutMs)");
        }, cfg.readTimeoutMillis(), TimeUnit.MILLISECONDS);
        parked.add(new Parked(ch, hello, cert, entry, timeout));
        ch.closeFuture().addListener(f -> {
          synchronized (this) {
            parked.removeIf(p -> p.channel() == ch);
          }
        });
        s = null;
      }
    }
    if (s == null) {
      ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {Handshake.ACCEPT}));
      return; // the session will attach it (openSession), checking the certificate then
    }
    attach(s, ch, hello, cert, entry, true);
  }

  /** Runs on the channel's event loop: hands the connection to its session's inbox. */
  private void attach(TcpBlockTransport s, Channel ch, Handshake.Hello hello, String cert,
      Pending entry, boolean acknowledge) {
    if (!ch.isOpen()) {
      return;
    }
    String refusal = s.refusal(hello, cert);
    if (refusal != null) {
      drop(ch, refusal);
      return;
    }
    entry.settle(); // no longer pending: it is one of the session's peers now
    InboundConnection reader = new InboundConnection(s, hello, String.valueOf(ch.remoteAddress()),
        cfg);
    ch.pipeline().addLast("frames", reader);
    if (ch.config().getRecvByteBufAllocator() instanceof DirectReadAllocator direct) {
      direct.bind(reader);
    }
    if (acknowledge) {
      ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {Handshake.ACCEPT}));
    }
    ch.config().setAutoRead(true);
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    TcpBlockTransport s = session;
    if (s != null) {
      s.close();
    }
    serverChannel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    channels.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    EventLoops.release();
  }
}
