package io.skippipe.job.transfer;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The incremental reader of {@link FrameCodec}'s frames: fed bytes as they arrive, in pieces of
 * any size, it returns each complete block. One per connection; not thread-safe.
 *
 * <p>Nothing is allocated from a length the peer sent until it passed its bounds check: the
 * prefix and header go into a fixed scratch array (the header length is checked against the
 * largest legal header first), and the payload buffer is taken from the {@link BufferPool} only
 * once the header decoded and its payload length is within {@code maxPayloadBytes}. The CRC32C is
 * updated over each piece as it is copied into the payload, while the bytes are still in cache.
 */
final class FrameDecoder {
  private enum State { PREFIX, HEADER, PAYLOAD, CRC }

  private final int maxPayloadBytes;
  private final byte[] scratch = new byte[FrameCodec.PREFIX_BYTES + FrameCodec.MAX_HEADER_BYTES];
  private final CRC32C crc = new CRC32C();
  private State state = State.PREFIX;
  private int filled;
  private int headerLength;
  private BlockType type;
  private BlockHeader header;
  private ByteBuffer payload;

  FrameDecoder(int maxPayloadBytes) {
    this.maxPayloadBytes = maxPayloadBytes;
  }

  /**
   * Consumes bytes of {@code src} (advancing its position) up to the end of the next frame;
   * returns that frame's block, or null when {@code src} ran out first.
   *
   * @throws CorruptFrameException on a bad type, header, length or CRC (drop the connection)
   */
  Block decode(ByteBuffer src) throws CorruptFrameException {
    while (src.hasRemaining()) {
      switch (state) {
        case PREFIX -> {
          if (fill(src, FrameCodec.PREFIX_BYTES)) {
            type = BlockType.fromWire(scratch[0]);
            headerLength = ((scratch[1] & 0xff) << 8) | (scratch[2] & 0xff);
            if (headerLength < FrameCodec.MIN_HEADER_BYTES
                || headerLength > FrameCodec.MAX_HEADER_BYTES) {
              throw new CorruptFrameException("implausible header length " + headerLength);
            }
            state = State.HEADER;
          }
        }
        case HEADER -> {
          if (fill(src, FrameCodec.PREFIX_BYTES + headerLength)) {
            header = BlockHeader.decode(ByteBuffer.wrap(scratch, FrameCodec.PREFIX_BYTES,
                headerLength));
            if (header.encodedLength() != headerLength) {
              throw new CorruptFrameException("header of " + headerLength + " bytes encodes "
                  + header.encodedLength());
            }
            if (header.payloadBytes() > maxPayloadBytes) {
              throw new CorruptFrameException("payload of " + header.payloadBytes()
                  + " bytes exceeds the limit of " + maxPayloadBytes
                  + " (spark.skippipe.transfer.maxFrameBytes)");
            }
            crc.reset();
            crc.update(scratch, 0, FrameCodec.PREFIX_BYTES + headerLength);
            payload = BufferPool.SHARED.acquire(header.payloadBytes());
            filled = 0;
            state = payload.hasRemaining() ? State.PAYLOAD : State.CRC;
          }
        }
        case PAYLOAD -> {
          int n = Math.min(src.remaining(), payload.remaining());
          int limit = src.limit();
          src.limit(src.position() + n);
          payloadRegion().put(src);
          src.limit(limit);
          payloadFilled(n);
        }
        case CRC -> {
          if (fill(src, FrameCodec.CRC_BYTES)) {
            int expected = ByteBuffer.wrap(scratch, 0, FrameCodec.CRC_BYTES).getInt();
            if ((int) crc.getValue() != expected) {
              release();
              throw new CorruptFrameException("CRC32C mismatch on " + type + " frame from node "
                  + header.from() + " (computed " + Integer.toHexString((int) crc.getValue())
                  + ", frame says " + Integer.toHexString(expected) + ")");
            }
            ByteBuffer p = payload.flip();
            payload = null;
            state = State.PREFIX;
            filled = 0;
            return Block.pooled(type, header, p);
          }
        }
      }
    }
    return null;
  }

  /**
   * The part of the current payload still to receive (a view of its buffer: bytes written there
   * count once {@link #payloadFilled} is called), or null when no payload is being received.
   */
  ByteBuffer payloadRegion() {
    return state == State.PAYLOAD ? payload.slice() : null;
  }

  /** {@code n} more payload bytes were written into {@link #payloadRegion()}. */
  void payloadFilled(int n) {
    int at = payload.position();
    payload.position(at + n);
    crc.update(payload.duplicate().position(at).limit(at + n));
    if (!payload.hasRemaining()) {
      state = State.CRC;
    }
  }

  /** Bytes that certainly belong to the current frame (at least 1). */
  int bytesToFrameEnd() {
    return switch (state) {
      case PREFIX -> FrameCodec.PREFIX_BYTES - filled;
      case HEADER -> FrameCodec.PREFIX_BYTES + headerLength - filled;
      case PAYLOAD -> payload.remaining() + FrameCodec.CRC_BYTES;
      case CRC -> FrameCodec.CRC_BYTES - filled;
    };
  }

  /** Whether a frame is partly read (an EOF now truncates it). */
  boolean midFrame() {
    return state != State.PREFIX || filled > 0;
  }

  /** Drops a partly received payload (the connection ended). */
  void release() {
    ByteBuffer p = payload;
    payload = null;
    if (p != null) {
      BufferPool.SHARED.release(p);
    }
  }

  /** Copies bytes into the scratch array until it holds {@code upTo}; true once it does. */
  private boolean fill(ByteBuffer src, int upTo) {
    int n = Math.min(src.remaining(), upTo - filled);
    src.get(scratch, filled, n);
    filled += n;
    return filled == upTo;
  }
}
