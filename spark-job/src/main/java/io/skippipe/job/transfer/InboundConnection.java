package io.skippipe.job.transfer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.skippipe.job.config.TransferConfig;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The reading end of one authenticated connection, on its event loop: decodes frames into blocks
 * and queues them in the session's {@link Inbox}.
 *
 * <p>Backpressure: when the inbox has no room, reading stops ({@code autoRead} off, the bytes not
 * yet decoded are held) and resumes when the inbox regains room, so a slow consumer slows its
 * senders through TCP instead of growing memory. Silence: a peer that sends nothing, heartbeats
 * included, for {@code readTimeoutMs} while reading is <i>not</i> paused is reported dead; a pause
 * is this node's doing and resets the clock.
 */
final class InboundConnection extends ChannelInboundHandlerAdapter {
  private final TcpBlockTransport session;
  private final Handshake.Hello hello;
  private final String remote;
  private final long readTimeoutNanos;
  private final FrameDecoder decoder;
  private ByteBuf held;
  private ByteBuf directRead;
  private boolean paused;
  private boolean ended;
  private long lastReadNanos = System.nanoTime();
  private ScheduledFuture<?> watchdog;

  InboundConnection(TcpBlockTransport session, Handshake.Hello hello, String remote,
      TransferConfig cfg) {
    this.session = session;
    this.hello = hello;
    this.remote = remote;
    this.readTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(cfg.readTimeoutMillis());
    this.decoder = new FrameDecoder(cfg.maxFrameBytes());
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    watch(ctx, readTimeoutNanos);
  }

  private void watch(ChannelHandlerContext ctx, long delayNanos) {
    watchdog = ctx.executor().schedule(() -> checkSilence(ctx), delayNanos,
        TimeUnit.NANOSECONDS);
  }

  private void checkSilence(ChannelHandlerContext ctx) {
    if (ended) {
      return;
    }
    long silent = System.nanoTime() - lastReadNanos;
    if (paused || silent < readTimeoutNanos) {
      watch(ctx, paused ? readTimeoutNanos : readTimeoutNanos - silent);
      return;
    }
    fail(ctx, "node " + hello.from() + " (" + remote + ") was silent for "
        + TimeUnit.NANOSECONDS.toMillis(readTimeoutNanos) + " ms, heartbeats included: it is"
        + " dead or hung (spark.skippipe.transfer.readTimeoutMs)", null);
  }

  /**
   * Where the next socket read may write directly: the rest of the payload being received, when
   * at least {@link #DIRECT_READ_MIN} bytes of it are missing and no other bytes wait to be
   * decoded; else null (read into a network buffer and copy). Plain-text connections only: TLS
   * records must be decrypted first.
   */
  ByteBuf directReadTarget() {
    if (paused || ended || held != null) {
      return null;
    }
    ByteBuffer region = decoder.payloadRegion();
    if (region == null || region.remaining() < DIRECT_READ_MIN) {
      return null;
    }
    directRead = Unpooled.wrappedBuffer(region).clear();
    return directRead;
  }

  /** The smallest payload remainder worth a read of its own. */
  static final int DIRECT_READ_MIN = 64 * 1024;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    lastReadNanos = System.nanoTime();
    if (in == directRead) { // the socket wrote into the payload itself: nothing to copy
      directRead = null;
      int n = in.readableBytes();
      in.release();
      if (!ended) {
        decoder.payloadFilled(n);
      }
      return;
    }
    if (ended) {
      in.release();
      return;
    }
    if (held == null) {
      held = in;
    } else { // a read that was in flight when reading paused
      ByteBuf merged = ctx.alloc().buffer(held.readableBytes() + in.readableBytes());
      merged.writeBytes(held).writeBytes(in);
      held.release();
      in.release();
      held = merged;
    }
    process(ctx);
  }

  private void process(ChannelHandlerContext ctx) {
    try {
      while (held != null && !paused && !ended) {
        ByteBuffer src = held.nioBuffer(held.readerIndex(), held.readableBytes());
        Block b = decoder.decode(src);
        held.skipBytes(src.position());
        if (!held.isReadable()) {
          held.release();
          held = null;
        }
        if (b == null) {
          return;
        }
        deliver(ctx, b);
      }
    } catch (CorruptFrameException e) {
      fail(ctx, "corrupt frame from node " + hello.from() + " (" + remote + "): "
          + e.getMessage(), e);
    }
  }

  private void deliver(ChannelHandlerContext ctx, Block b) throws CorruptFrameException {
    int from = hello.from();
    if (b.header().run() != hello.run() || b.header().from() != from) {
      b.close();
      throw new CorruptFrameException("frame claims run " + b.header().run() + " from node "
          + b.header().from() + " on the connection of run " + hello.run() + " from node "
          + from);
    }
    switch (b.type()) {
      case HEARTBEAT -> b.close();
      case CLOSE -> {
        b.close();
        end(ctx);
      }
      case ABORT -> {
        String why = new String(b.payload(), StandardCharsets.UTF_8);
        b.close();
        session.inboundFailure(new PeerFailureException(from, "node " + from + " (" + remote
            + ") aborted: " + why));
        end(ctx);
      }
      default -> {
        if (!session.inbox().offer(b, () -> ctx.executor().execute(() -> resume(ctx)))) {
          paused = true;
          ctx.channel().config().setAutoRead(false);
        }
      }
    }
  }

  private void resume(ChannelHandlerContext ctx) {
    if (!paused) {
      return;
    }
    paused = false;
    lastReadNanos = System.nanoTime();
    process(ctx);
    if (!paused && !ended) {
      ctx.channel().config().setAutoRead(true);
    }
  }

  private void end(ChannelHandlerContext ctx) {
    ended = true;
    ctx.close();
  }

  private void fail(ChannelHandlerContext ctx, String message, Throwable cause) {
    if (ended) {
      return;
    }
    ended = true;
    if (!session.isClosed()) {
      session.inboundFailure(new PeerFailureException(hello.from(), message, cause));
    }
    ctx.close();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    fail(ctx, "connection from node " + hello.from() + " (" + remote + ") failed: " + cause,
        cause);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    fail(ctx, "connection from node " + hello.from() + " (" + remote + ") ended without CLOSE"
        + (decoder.midFrame() ? ", inside a frame" : "") + ": the peer's task died", null);
    if (watchdog != null) {
      watchdog.cancel(false);
    }
    if (held != null) {
      held.release();
      held = null;
    }
    decoder.release();
    ctx.fireChannelInactive();
  }
}
