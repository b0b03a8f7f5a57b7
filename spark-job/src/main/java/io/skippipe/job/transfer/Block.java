package io.skippipe.job.transfer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * One message on the block transfer: its type, header and payload (little-endian elements).
 *
 * <p>The payload is a buffer, not an array, so activations and gradients move between the
 * network and their producer or consumer with bulk copies only: {@link #of} wraps a caller's
 * buffer without copying, {@link #ofPooled} wraps a pooled buffer the producer filled ({@link
 * #allocatePayload}; how a stage's activations go out), {@link #ofFloats} copies a {@code float[]}
 * in one bulk put, and a received block's payload is the direct buffer the network wrote into;
 * {@link #buffer()} reads it without copying, {@link #floats()} copies it out in one bulk get.
 *
 * <p>Ownership: whoever holds a block may {@link #close()} it when done, which returns a pooled
 * payload ({@link BufferPool}) for reuse; reading a closed block throws. {@link BlockTransport#send}
 * takes ownership of the block it is given (the transport closes it once its bytes are on the
 * wire). Closing is optional: an unclosed block's memory is reclaimed by the garbage collector.
 */
public final class Block implements AutoCloseable {
  private final BlockType type;
  private final BlockHeader header;
  private volatile ByteBuffer payload; // little-endian, position 0, limit = payloadBytes
  private final ByteBuffer pooled; // the buffer to give back to the pool on close, or null

  private Block(BlockType type, BlockHeader header, ByteBuffer payload, boolean pooled) {
    if (payload.remaining() != header.payloadBytes()) {
      throw new IllegalArgumentException("payload has " + payload.remaining()
          + " bytes but header says " + header.payloadBytes());
    }
    this.type = type;
    this.header = header;
    this.payload = payload.slice().order(ByteOrder.LITTLE_ENDIAN);
    this.pooled = pooled ? payload : null;
  }

  /** A block over {@code payload} (not copied). */
  public Block(BlockType type, BlockHeader header, byte[] payload) {
    this(type, header, ByteBuffer.wrap(payload), false);
  }

  /**
   * A block over the remaining bytes of {@code payload}, which is neither copied nor pooled: the
   * caller must not change them until the block is sent and closed.
   */
  public static Block of(BlockType type, BlockHeader header, ByteBuffer payload) {
    return new Block(type, header, payload, false);
  }

  /** A block whose payload came from {@link BufferPool#SHARED} and goes back on close. */
  static Block pooled(BlockType type, BlockHeader header, ByteBuffer payload) {
    return new Block(type, header, payload, true);
  }

  /**
   * A float32 block of the given shape (default: one dimension of {@code values.length}), the
   * values copied in one bulk put into a pooled buffer.
   */
  public static Block ofFloats(BlockType type, long run, int iteration, int microbatch, int from,
      int to, float[] values, long... shape) {
    long[] s = shape.length == 0 ? new long[] {values.length} : shape;
    BlockHeader h = BlockHeader.floats(run, iteration, microbatch, from, to, s);
    if (h.payloadBytes() != values.length * 4L) {
      throw new IllegalArgumentException("shape " + Arrays.toString(s) + " does not hold "
          + values.length + " floats");
    }
    return ofFloatRange(type, h, values, 0, values.length);
  }

  /**
   * A one-dimensional float32 block of {@code values[offset, offset + length)}, copied in one bulk
   * put (no intermediate array).
   */
  public static Block ofFloatRange(BlockType type, long run, int iteration, int microbatch,
      int from, int to, float[] values, int offset, int length) {
    return ofFloatRange(type, BlockHeader.floats(run, iteration, microbatch, from, to, length),
        values, offset, length);
  }

  private static Block ofFloatRange(BlockType type, BlockHeader h, float[] values, int offset,
      int length) {
    ByteBuffer b = BufferPool.SHARED.acquire(length * 4);
    b.asFloatBuffer().put(values, offset, length);
    return pooled(type, h, b);
  }

  /**
   * A little-endian buffer for a payload of {@code bytes} (position 0, limit {@code bytes},
   * contents undefined) from the transfer's pool: fill it and wrap it with {@link #ofPooled},
   * which gives it back when the block is closed (a buffer that is dropped instead is simply
   * garbage-collected).
   */
  public static ByteBuffer allocatePayload(int bytes) {
    return BufferPool.SHARED.acquire(bytes);
  }

  /**
   * A block of {@code shape} elements of {@code dtype} over {@code payload}, a filled buffer from
   * {@link #allocatePayload} (position 0, limit = the payload bytes), not copied; the block owns it
   * and returns it to the pool on {@link #close()}.
   *
   * @throws IllegalArgumentException when the payload's size does not match shape and dtype
   */
  public static Block ofPooled(BlockType type, DType dtype, long run, int iteration,
      int microbatch, int from, int to, ByteBuffer payload, long... shape) {
    return pooled(type, BlockHeader.of(run, iteration, microbatch, from, to, dtype, shape),
        payload);
  }

  /** A block without payload (e.g. a heartbeat). */
  public static Block empty(BlockType type, long run, int iteration, int microbatch, int from,
      int to) {
    return new Block(type, new BlockHeader(run, iteration, microbatch, from, to, DType.BYTES,
        new long[0], 0), new byte[0]);
  }

  public BlockType type() {
    return type;
  }

  public BlockHeader header() {
    return header;
  }

  /**
   * A read-only little-endian view of the payload (position 0, limit = payload bytes), no copy.
   * Valid until the block is closed.
   */
  public ByteBuffer buffer() {
    return live().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The payload bytes, copied into a new array (small payloads; {@link #buffer()} for large). */
  public byte[] payload() {
    byte[] out = new byte[header.payloadBytes()];
    live().duplicate().get(out);
    return out;
  }

  /**
   * The payload of a FLOAT32 block as a new array, in one bulk copy (tests and tools; the
   * runtime reads {@link #buffer()}).
   *
   * @throws IllegalStateException for another dtype
   */
  public float[] floats() {
    if (header.dtype() != DType.FLOAT32) {
      throw new IllegalStateException(this + " holds " + header.dtype() + ", not FLOAT32 values;"
          + " read buffer() (a bf16 stage decodes its own wire form)");
    }
    FloatBuffer f = live().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] out = new float[f.remaining()];
    f.get(out);
    return out;
  }

  /** The payload for the transport's own writes (not read-only, so Netty wraps it as is). */
  ByteBuffer wireBuffer() {
    return live().duplicate();
  }

  /** Releases the payload (back to the pool when pooled); idempotent. */
  @Override
  public synchronized void close() {
    ByteBuffer p = payload;
    payload = null;
    if (p != null && pooled != null) {
      BufferPool.SHARED.release(pooled);
    }
  }

  private ByteBuffer live() {
    ByteBuffer p = payload;
    if (p == null) {
      throw new IllegalStateException(this + " was closed; its payload is gone");
    }
    return p;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Block b && type == b.type && header.equals(b.header)
        && live().equals(b.live());
  }

  @Override
  public int hashCode() {
    return type.hashCode() * 31 + header.hashCode();
  }

  @Override
  public String toString() {
    return type + " " + header;
  }
}
