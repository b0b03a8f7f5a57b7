package io.skippipe.job.transfer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One message on the block transfer: its type, header and payload bytes (little-endian elements).
 *
 * <p>Payloads are host buffers; tensors are created from them on the compute thread.
 */
public record Block(BlockType type, BlockHeader header, byte[] payload) {
  public Block {
    if (payload.length != header.payloadBytes()) {
      throw new IllegalArgumentException("payload has " + payload.length + " bytes but header says "
          + header.payloadBytes());
    }
  }

  /** A float32 block of the given shape. */
  public static Block ofFloats(BlockType type, long run, int iteration, int microbatch, int from,
      int to, float[] values, long... shape) {
    long[] s = shape.length == 0 ? new long[] {values.length} : shape;
    BlockHeader h = BlockHeader.floats(run, iteration, microbatch, from, to, s);
    if (h.payloadBytes() != values.length * 4) {
      throw new IllegalArgumentException("shape " + Arrays.toString(s) + " does not hold "
          + values.length + " floats");
    }
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return new Block(type, h, b.array());
  }

  /** A block without payload (e.g. a heartbeat). */
  public static Block empty(BlockType type, long run, int iteration, int microbatch, int from,
      int to) {
    return new Block(type, new BlockHeader(run, iteration, microbatch, from, to, DType.BYTES,
        new long[0], 0), new byte[0]);
  }

  /** The payload read as little-endian float32 values. */
  public float[] floats() {
    float[] out = new float[payload.length / 4];
    ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Block b && type == b.type && header.equals(b.header)
        && Arrays.equals(payload, b.payload);
  }

  @Override
  public int hashCode() {
    return type.hashCode() * 31 + header.hashCode() + Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    return type + " " + header;
  }
}
