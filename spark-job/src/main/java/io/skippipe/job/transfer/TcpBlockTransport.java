package io.skippipe.job.transfer;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.skippipe.job.config.TransferConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The TCP {@link BlockTransport}: one session of a {@link TcpBlockServer}. Outbound connections are
 * opened on first send to a peer (one per peer, authenticated, TLS when the server encrypts),
 * carry frames in one direction and heartbeats while idle; inbound blocks arrive through the
 * server into this session's bounded inbox.
 *
 * <p>A send writes the frame as three buffers — head, the block's own payload, CRC trailer — in
 * one gathering write (no copy of a direct payload). It returns once the frame is queued behind
 * less than the write buffer's low water mark (see {@link #WATER_MARK}), and fails, naming the
 * peer, when the peer accepts no byte for {@code writeTimeoutMs} while it waits (progress, not
 * total time, is measured: a large frame on a slow link is not a dead peer). {@link #close}
 * drains what is still queued before it sends CLOSE.
 */
public final class TcpBlockTransport implements BlockTransport {
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  /**
   * A send returns once the bytes queued before it drained below 1 MiB (and waits while more
   * than 4 MiB are queued): the next frame is handed over while the previous one still flows, so
   * the socket never idles between frames, and at most about one frame per peer waits in memory.
   */
  private static final WriteBufferWaterMark WATER_MARK =
      new WriteBufferWaterMark(1 << 20, 4 << 20);

  private final TcpBlockServer server;
  private final TransferConfig cfg;
  private final long run;
  private final int node;
  private final Map<Integer, InetSocketAddress> peers;
  private final Map<Integer, String> pins;
  private final SslContext clientTls;
  private final Inbox inbox;
  private final Map<Integer, Outbound> outbound = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** One authenticated outbound connection. */
  private static final class Outbound {
    final Channel channel;
    final ReentrantLock lock = new ReentrantLock();
    volatile String broken;

    Outbound(Channel channel) {
      this.channel = channel;
    }
  }

  TcpBlockTransport(TcpBlockServer server, long run, int node,
      Map<Integer, InetSocketAddress> peers, Map<Integer, String> pins) {
    this.server = server;
    this.cfg = server.config();
    this.run = run;
    this.node = node;
    this.peers = Map.copyOf(peers);
    this.pins = Map.copyOf(pins);
    TransferTls tls = server.tls();
    if (tls != null) {
      for (int peer : peers.keySet()) {
        String pin = pins.get(peer);
        if (pin == null || pin.isEmpty()) {
          throw new IllegalArgumentException("encrypted session of node " + node + ": node "
              + peer + " at " + peers.get(peer) + " published no certificate fingerprint");
        }
      }
    }
    this.clientTls = tls == null ? null : tls.clientContext(new HashSet<>(pins.values()));
    this.inbox = new Inbox(cfg.queueCapacity(), cfg.maxBufferedBytes());
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

  Inbox inbox() {
    return inbox;
  }

  /** Whether an authenticated hello is addressed to this session. */
  boolean serves(Handshake.Hello hello) {
    return !closed && hello.run() == run && hello.to() == node;
  }

  /**
   * Why a connection addressed to this session must be refused, or null: with encryption, its
   * certificate must be the one its node published.
   */
  String refusal(Handshake.Hello hello, String certSha256) {
    if (clientTls == null) {
      return null;
    }
    String pin = pins.get(hello.from());
    if (pin == null) {
      return "node " + hello.from() + " is not a peer of session run=" + run + " of node " + node
          + " (no published certificate)";
    }
    if (!pin.equals(certSha256)) {
      return "the client claiming to be node " + hello.from() + " presented certificate sha256 "
          + certSha256 + ", but node " + hello.from() + " published " + pin + " at rendezvous";
    }
    return null;
  }

  void inboundFailure(PeerFailureException e) {
    inbox.fail(e);
  }

  @Override
  public void send(Block block) throws IOException {
    int to = block.header().to();
    if (to == node) {
      sendToSelf(block);
      return;
    }
    boolean queued = false;
    try {
      Outbound o = connection(to, System.nanoTime()
          + TimeUnit.MILLISECONDS.toNanos(cfg.connectTimeoutMillis()));
      o.lock.lock();
      inbox.beginSend();
      try {
        enqueue(o, to, block, TimeUnit.MILLISECONDS.toNanos(cfg.writeTimeoutMillis()));
        queued = true;
      } finally {
        inbox.endSend();
        o.lock.unlock();
      }
    } finally {
      if (!queued) {
        block.close();
      }
    }
  }

  private void sendToSelf(Block block) throws PeerFailureException {
    inbox.beginSend();
    try {
      if (!inbox.put(block, TimeUnit.MILLISECONDS.toNanos(cfg.writeTimeoutMillis()))) {
        throw new PeerFailureException(node, "node " + node + " could not queue a block to"
            + " itself: its own inbox stayed full for " + cfg.writeTimeoutMillis() + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PeerFailureException(node, "interrupted while sending to itself", e);
    } finally {
      inbox.endSend();
    }
  }

  /**
   * Queues one frame on the connection once the frames before it drained below the write
   * buffer's low water mark (backpressure), and returns; the block is closed when its last byte
   * went to the kernel. Fails when the peer accepts no byte for {@code stallNanos} meanwhile.
   */
  private ChannelFuture enqueue(Outbound o, int to, Block block, long stallNanos)
      throws PeerFailureException {
    Channel ch = o.channel;
    long lastProgress = System.nanoTime();
    long lowestPending = Long.MAX_VALUE;
    synchronized (o) {
      while (!ch.isWritable() && ch.isActive() && o.broken == null) {
        long now = System.nanoTime();
        long pendingBytes = pendingBytes(ch);
        if (pendingBytes < lowestPending) { // heartbeats queued behind us only add bytes
          lowestPending = pendingBytes;
          lastProgress = now;
        } else if (now - lastProgress >= stallNanos) {
          stalled(o, to, block, now - lastProgress);
        }
        try {
          o.wait(TimeUnit.NANOSECONDS.toMillis(POLL_NANOS));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new PeerFailureException(to, "interrupted while sending to node " + to, e);
        }
      }
    }
    if (o.broken != null || !ch.isActive()) {
      outbound.remove(to, o);
      throw new PeerFailureException(to, "node " + node + " cannot send " + block.type()
          + " to node " + to + " at " + peers.get(to) + ": "
          + (o.broken != null ? o.broken : "the connection is closed"));
    }
    ChannelFuture f = ch.writeAndFlush(frame(ch.alloc(), block));
    f.addListener(done -> {
      block.close();
      if (!done.isSuccess() && o.broken == null) {
        o.broken = "sending " + block.type() + " failed: " + done.cause();
      }
    });
    return f;
  }

  private void stalled(Outbound o, int to, Block block, long stalledNanos)
      throws PeerFailureException {
    o.channel.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
    outbound.remove(to, o);
    throw new PeerFailureException(to, "node " + node + " could not send " + block.type() + " ("
        + block.header().payloadBytes() + " bytes) to node " + to + " at " + peers.get(to)
        + ": node " + to + " accepted no byte for " + TimeUnit.NANOSECONDS.toMillis(stalledNanos)
        + " ms (spark.skippipe.transfer.writeTimeoutMs=" + cfg.writeTimeoutMillis() + "); it"
        + " stopped reading — dead, hung, or its inbox stays full while it does not take");
  }

  /**
   * Waits until {@code f} (a frame queued by {@link #enqueue}) went out; false when the peer
   * accepted no byte for {@code stallNanos} or {@code maxNanos} passed.
   */
  private static boolean awaitWritten(Channel ch, ChannelFuture f, long stallNanos,
      long maxNanos) {
    long start = System.nanoTime();
    long lastProgress = start;
    long lowestPending = Long.MAX_VALUE;
    while (!f.awaitUninterruptibly(POLL_NANOS, TimeUnit.NANOSECONDS)) {
      long now = System.nanoTime();
      long pendingBytes = pendingBytes(ch);
      if (pendingBytes < lowestPending) {
        lowestPending = pendingBytes;
        lastProgress = now;
      } else if (now - lastProgress >= stallNanos || now - start >= maxNanos) {
        return false;
      }
    }
    return f.isSuccess();
  }

  private static long pendingBytes(Channel ch) {
    ChannelOutboundBuffer b = ch.unsafe().outboundBuffer();
    return b == null ? 0 : b.totalPendingWriteBytes();
  }

  /**
   * The frame as one message: head, payload and CRC trailer. A direct payload is wrapped, not
   * copied (the write is gathering); a heap payload is small and copied with the rest.
   */
  static ByteBuf frame(ByteBufAllocator alloc, Block block) {
    ByteBuffer head = FrameCodec.head(block);
    ByteBuffer payload = block.wireBuffer();
    ByteBuffer tail = FrameCodec.tail(head, payload);
    if (!payload.isDirect()) {
      ByteBuf all = alloc.directBuffer(head.remaining() + payload.remaining() + tail.remaining());
      return all.writeBytes(head).writeBytes(payload).writeBytes(tail);
    }
    ByteBuf h = alloc.directBuffer(head.remaining()).writeBytes(head);
    ByteBuf t = alloc.directBuffer(tail.remaining()).writeBytes(tail);
    return Unpooled.wrappedBuffer(h, Unpooled.wrappedBuffer(payload), t);
  }

  private Outbound connection(int to, long deadlineNanos) throws PeerFailureException {
    Outbound o = outbound.get(to);
    if (o != null) {
      return o;
    }
    synchronized (outbound) {
      o = outbound.get(to);
      if (o == null) {
        o = connect(to, deadlineNanos);
        outbound.put(to, o);
      }
      return o;
    }
  }

  /**
   * Connects, (with encryption) runs TLS and checks the server's pin, answers the challenge and
   * waits for the acceptance, all before {@code deadlineNanos}. A connection closed before the
   * challenge (the server was over its connection bound) is retried until the deadline.
   */
  private Outbound connect(int to, long deadlineNanos) throws PeerFailureException {
    InetSocketAddress addr = peers.get(to);
    if (addr == null) {
      throw new PeerFailureException(to, "node " + node + " has no address for node " + to
          + " (known peers: " + peers.keySet() + ")");
    }
    if (closed) {
      throw new PeerFailureException(to, "session of node " + node + " is closed");
    }
    String last = "no attempt";
    while (true) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) {
        throw new PeerFailureException(to, "node " + node + " cannot reach node " + to + " at "
            + addr + " within " + cfg.connectTimeoutMillis()
            + " ms (spark.skippipe.transfer.connectTimeoutMs): " + last);
      }
      ClientHandshake hs = new ClientHandshake(to);
      ChannelFuture cf = new Bootstrap().group(EventLoops.io()).channel(NioSocketChannel.class)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
              (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)))
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
          .handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              if (clientTls != null) {
                ch.pipeline().addLast("tls", clientTls.newHandler(ch.alloc()));
              }
              ch.pipeline().addLast("handshake", hs);
            }
          })
          .connect(addr);
      cf.addListener(f -> {
        if (!f.isSuccess()) {
          hs.fail(f.cause().toString(), true);
        }
      });
      try {
        Channel ch = hs.done.get(left, TimeUnit.NANOSECONDS);
        Outbound o = new Outbound(ch);
        ch.pipeline().addLast("idle", new IdleStateHandler(0, cfg.heartbeatMillis(), 0,
            TimeUnit.MILLISECONDS));
        ch.pipeline().addLast("watch", new OutboundWatch(o, to));
        return o;
      } catch (ExecutionException e) {
        last = e.getCause().getMessage();
        if (!(e.getCause() instanceof RetryableConnectException)) {
          cf.channel().close();
          throw new PeerFailureException(to, "node " + node + " cannot connect to node " + to
              + " at " + addr + ": " + last, e.getCause());
        }
        cf.channel().close();
        sleepQuietly(Math.min(50, TimeUnit.NANOSECONDS.toMillis(left)));
      } catch (TimeoutException e) {
        cf.channel().close();
        last = "the handshake did not complete in time (" + hs.stage + ")";
      } catch (InterruptedException e) {
        cf.channel().close();
        Thread.currentThread().interrupt();
        throw new PeerFailureException(to, "interrupted while connecting to node " + to, e);
      }
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A failed connection attempt that may succeed if repeated (refused, closed early). */
  private static final class RetryableConnectException extends IOException {
    RetryableConnectException(String message) {
      super(message);
    }
  }

  /** Client side of the {@link Handshake}, after TLS and the server pin check when encrypted. */
  private final class ClientHandshake extends ChannelInboundHandlerAdapter {
    final CompletableFuture<Channel> done = new CompletableFuture<>();
    private final int to;
    private final byte[] challenge = new byte[Handshake.CHALLENGE_BYTES];
    private int got;
    private boolean answered;
    volatile String stage = "connecting";

    ClientHandshake(int to) {
      this.to = to;
    }

    void fail(String why, boolean retryable) {
      done.completeExceptionally(retryable ? new RetryableConnectException(why)
          : new IOException(why));
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      stage = clientTls != null ? "TLS handshake" : "awaiting the challenge";
      ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (!(evt instanceof SslHandshakeCompletionEvent e)) {
        return;
      }
      if (!e.isSuccess()) {
        fail("TLS handshake failed: " + e.cause(), false);
        ctx.close();
        return;
      }
      try {
        String got = TransferTls.sha256(ctx.pipeline().get(SslHandler.class).engine()
            .getSession().getPeerCertificates()[0]);
        if (!got.equals(pins.get(to))) {
          fail("node " + to + " presented certificate sha256 " + got + ", but it published "
              + pins.get(to) + " at rendezvous", false);
          ctx.close();
          return;
        }
      } catch (IOException ex) {
        fail("no server certificate: " + ex, false);
        ctx.close();
        return;
      }
      stage = "awaiting the challenge";
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf in = (ByteBuf) msg;
      try {
        if (!answered) {
          int n = Math.min(in.readableBytes(), challenge.length - got);
          in.readBytes(challenge, got, n);
          got += n;
          if (got < challenge.length) {
            return;
          }
          byte[] answer = Handshake.answer(server.secret(), challenge,
              new Handshake.Hello(run, node, to));
          answered = true;
          stage = "awaiting the acceptance";
          ctx.writeAndFlush(Unpooled.wrappedBuffer(answer));
        }
        if (in.isReadable()) {
          if (in.readByte() != Handshake.ACCEPT) {
            fail("the block server answered the handshake with garbage", false);
            ctx.close();
            return;
          }
          ctx.pipeline().remove(this);
          done.complete(ctx.channel());
        }
      } catch (IOException e) {
        fail(e.getMessage(), false);
        ctx.close();
      } finally {
        in.release();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (answered) {
        fail("the block server closed the connection after our answer: it rejected the"
            + " handshake (different run secret, or a certificate it does not pin)", false);
      } else {
        fail("the connection closed before the challenge (" + stage + ")", got == 0);
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(cause.toString(), false);
      ctx.close();
    }
  }

  /** Heartbeats on an idle outbound connection; notes when the peer closed it. */
  private final class OutboundWatch extends ChannelDuplexHandler {
    private final Outbound o;
    private final int to;

    OutboundWatch(Outbound o, int to) {
      this.o = o;
      this.to = to;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof IdleStateEvent) {
        ctx.writeAndFlush(frame(ctx.alloc(),
            Block.empty(BlockType.HEARTBEAT, run, -1, -1, node, to)));
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ((ByteBuf) msg).release(); // the server sends nothing after the acceptance
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      synchronized (o) {
        o.notifyAll();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (o.broken == null) {
        o.broken = "the connection was closed by node " + to + " (its task ended or failed)";
      }
      synchronized (o) {
        o.notifyAll();
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      o.broken = "the connection failed: " + cause;
      ctx.close();
    }
  }

  @Override
  public Block take(long timeoutMillis) throws IOException, InterruptedException {
    return inbox.take(timeoutMillis);
  }

  /**
   * Sends ABORT to every peer, connecting where needed; bounded by {@code connectTimeoutMs} for
   * all connects together and one second per write, so a failing task is never held up long.
   */
  @Override
  public void abort(String reason) {
    byte[] why = reason.getBytes(StandardCharsets.UTF_8);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(cfg.connectTimeoutMillis());
    for (int peer : peers.keySet()) {
      if (peer == node || closed) {
        continue;
      }
      try {
        Outbound o = connection(peer, deadline);
        if (o.lock.tryLock(1, TimeUnit.SECONDS)) {
          try {
            long second = TimeUnit.SECONDS.toNanos(1);
            awaitWritten(o.channel, enqueue(o, peer, new Block(BlockType.ABORT, new BlockHeader(
                run, -1, -1, node, peer, DType.BYTES, new long[] {why.length}, why.length), why),
                second), second, second);
          } finally {
            o.lock.unlock();
          }
        }
      } catch (IOException | RuntimeException e) {
        // best effort: a peer we cannot reach learns of the failure from its own timeout
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Sends CLOSE on every outbound connection after the frames still queued and closes them; waits
   * while the peers keep accepting bytes, at most {@code writeTimeoutMs} without progress each.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    long stall = TimeUnit.MILLISECONDS.toNanos(cfg.writeTimeoutMillis());
    List<Map.Entry<Channel, ChannelFuture>> closing = new ArrayList<>();
    for (Map.Entry<Integer, Outbound> e : outbound.entrySet()) {
      Channel ch = e.getValue().channel;
      if (ch.isActive() && e.getValue().broken == null) {
        closing.add(Map.entry(ch, ch.writeAndFlush(frame(ch.alloc(), Block.empty(
            BlockType.CLOSE, run, -1, -1, node, e.getKey())))));
      }
    }
    for (Map.Entry<Channel, ChannelFuture> c : closing) {
      awaitWritten(c.getKey(), c.getValue(), stall, Long.MAX_VALUE);
    }
    for (Outbound o : outbound.values()) {
      o.channel.close();
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
