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

  /**
   * A block of {@code values} in {@code dtype}: {@link DType#FLOAT32} (4 bytes each) or {@link
   * DType#BF16} (2 bytes each: the upper half of each float, which must already be a bfloat16
   * value — a bf16 stage's outputs are — so nothing is lost).
   *
   * @throws IllegalArgumentException for another dtype or a value that is not a bfloat16 number
   */
  public static Block ofValues(BlockType type, DType dtype, long run, int iteration,
      int microbatch, int from, int to, float[] values, long... shape) {
    if (dtype == DType.FLOAT32) {
      return ofFloats(type, run, iteration, microbatch, from, to, values, shape);
    }
    if (dtype != DType.BF16) {
      throw new IllegalArgumentException("activation blocks are FLOAT32 or BF16, not " + dtype);
    }
    long[] s = shape.length == 0 ? new long[] {values.length} : shape;
    ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      int bits = Float.floatToRawIntBits(v);
      if ((bits & 0xffff) != 0) {
        throw new IllegalArgumentException(v + " is not a bfloat16 value; round it first"
            + " (io.skippipe.model.stage.Precision.roundToBf16)");
      }
      b.putShort((short) (bits >>> 16));
    }
    BlockHeader h = new BlockHeader(run, iteration, microbatch, from, to, DType.BF16, s,
        values.length * 2);
    return new Block(type, h, b.array());
  }

  /** A block without payload (e.g. a heartbeat). */
  public static Block empty(BlockType type, long run, int iteration, int microbatch, int from,
      int to) {
    return new Block(type, new BlockHeader(run, iteration, microbatch, from, to, DType.BYTES,
        new long[0], 0), new byte[0]);
  }

  /** The payload as float32 values (little-endian FLOAT32, or BF16 widened exactly). */
  public float[] floats() {
    if (header.dtype() == DType.BF16) {
      float[] out = new float[payload.length / 2];
      ByteBuffer in = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < out.length; i++) {
        out[i] = Float.intBitsToFloat((in.getShort() & 0xffff) << 16);
      }
      return out;
    }
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
