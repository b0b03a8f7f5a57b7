package io.skippipe.job.transfer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;

/**
 * The receive-buffer policy of a plain-text block connection: while a large payload is arriving,
 * the socket reads straight into the payload's own buffer ({@link
 * InboundConnection#directReadTarget}), as a raw socket reading into its destination would;
 * otherwise Netty's adaptive buffers are used. This removes the one copy of every activation byte
 * that a decoder fed from network buffers must make.
 *
 * <p>Set on the channel when it is accepted (Netty caches the read handle on first read), bound
 * to its {@link InboundConnection} once that exists; both run on the channel's event loop.
 */
final class DirectReadAllocator implements RecvByteBufAllocator {
  private final RecvByteBufAllocator normal = new AdaptiveRecvByteBufAllocator();
  private InboundConnection reader;

  void bind(InboundConnection reader) {
    this.reader = reader;
  }

  @Override
  public Handle newHandle() {
    return new DelegatingHandle(normal.newHandle()) {
      @Override
      public ByteBuf allocate(ByteBufAllocator alloc) {
        ByteBuf target = reader == null ? null : reader.directReadTarget();
        return target != null ? target : delegate().allocate(alloc);
      }
    };
  }
}
