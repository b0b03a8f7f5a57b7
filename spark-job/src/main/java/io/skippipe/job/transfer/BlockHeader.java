package io.skippipe.job.transfer;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The header of one block: which run, iteration and microbatch it belongs to, which node sent it to
 * which, and the payload's element type, shape and length in bytes.
 *
 * <p>For {@link BlockType#GRAD_SHARD} the {@code microbatch} field carries the ring step instead.
 * Wire layout (big-endian): run i64, iteration i32, microbatch i32, from i32, to i32, dtype u8,
 * rank u8, rank × i64 dims, payloadBytes i32.
 */
public record BlockHeader(long run, int iteration, int microbatch, int from, int to, DType dtype,
    long[] shape, int payloadBytes) {
  /** The largest tensor rank the wire format carries. */
  public static final int MAX_RANK = 8;

  public BlockHeader {
    if (shape == null || shape.length > MAX_RANK) {
      throw new IllegalArgumentException("shape must have at most " + MAX_RANK + " dims");
    }
    shape = shape.clone();
    if (payloadBytes < 0) {
      throw new IllegalArgumentException("payloadBytes must be >= 0, was " + payloadBytes);
    }
  }

  /** A header for a float32 payload of the given shape. */
  public static BlockHeader floats(long run, int iteration, int microbatch, int from, int to,
      long... shape) {
    return of(run, iteration, microbatch, from, to, DType.FLOAT32, shape);
  }

  /**
   * A header for a payload of {@code dtype} elements in the given shape: {@code payloadBytes =
   * Π shape × dtype.bytesPerElement()}.
   *
   * @throws IllegalArgumentException when a dimension is negative or the payload exceeds 2 GiB
   */
  public static BlockHeader of(long run, int iteration, int microbatch, int from, int to,
      DType dtype, long... shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    long bytes = Math.multiplyExact(n, dtype.bytesPerElement());
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a " + dtype + " block of shape "
          + Arrays.toString(shape) + " has " + bytes + " bytes; one block carries at most 2 GiB");
    }
    return new BlockHeader(run, iteration, microbatch, from, to, dtype, shape, (int) bytes);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Bytes this header takes on the wire. */
  public int encodedLength() {
    return 8 + 4 * 4 + 1 + 1 + 8 * shape.length + 4;
  }

  /** Writes the header into {@code out}. */
  public void encode(ByteBuffer out) {
    out.putLong(run).putInt(iteration).putInt(microbatch).putInt(from).putInt(to);
    out.put(dtype.wire()).put((byte) shape.length);
    for (long d : shape) {
      out.putLong(d);
    }
    out.putInt(payloadBytes);
  }

  /** The encoded bytes. */
  public byte[] encode() {
    ByteBuffer b = ByteBuffer.allocate(encodedLength());
    encode(b);
    return b.array();
  }

  /** Reads a header written by {@link #encode(ByteBuffer)}. */
  public static BlockHeader decode(ByteBuffer in) throws CorruptFrameException {
    try {
      long run = in.getLong();
      int iteration = in.getInt();
      int microbatch = in.getInt();
      int from = in.getInt();
      int to = in.getInt();
      DType dtype = DType.fromWire(in.get());
      int rank = in.get() & 0xff;
      if (rank > MAX_RANK) {
        throw new CorruptFrameException("header rank " + rank + " exceeds " + MAX_RANK);
      }
      long[] shape = new long[rank];
      for (int i = 0; i < rank; i++) {
        shape[i] = in.getLong();
      }
      int payloadBytes = in.getInt();
      if (payloadBytes < 0) {
        throw new CorruptFrameException("negative payload length " + payloadBytes);
      }
      return new BlockHeader(run, iteration, microbatch, from, to, dtype, shape, payloadBytes);
    } catch (java.nio.BufferUnderflowException e) {
      throw new CorruptFrameException("truncated block header");
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BlockHeader h && run == h.run && iteration == h.iteration
        && microbatch == h.microbatch && from == h.from && to == h.to && dtype == h.dtype
        && Arrays.equals(shape, h.shape) && payloadBytes == h.payloadBytes;
  }

  @Override
  public int hashCode() {
    return Long.hashCode(run) * 31 + Arrays.hashCode(shape) * 17 + iteration * 7 + microbatch;
  }

  @Override
  public String toString() {
    return "BlockHeader[run=" + run + ", iteration=" + iteration + ", microbatch=" + microbatch
        + ", from=" + from + ", to=" + to + ", dtype=" + dtype + ", shape="
        + Arrays.toString(shape) + ", payloadBytes=" + payloadBytes + "]";
  }
}
