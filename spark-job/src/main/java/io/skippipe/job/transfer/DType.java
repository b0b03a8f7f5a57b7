package io.skippipe.job.transfer;

/**
 * Element type of a block's payload, with a fixed wire byte (never renumber one). Adding a type is
 * one constant with an unused wire byte and its element size; headers, framing and buffers size
 * payloads through {@link #bytesPerElement()} and need no other change.
 */
public enum DType {
  BYTES(0, 1),
  FLOAT32(1, 4),
  INT32(2, 4),
  FLOAT64(3, 8),
  /** bfloat16: the upper 16 bits of a float32 (activations of a bf16 stage). */
  BF16(4, 2);

  private final byte wire;
  private final int bytesPerElement;

  DType(int wire, int bytesPerElement) {
    this.wire = (byte) wire;
    this.bytesPerElement = bytesPerElement;
  }

  public byte wire() {
    return wire;
  }

  public int bytesPerElement() {
    return bytesPerElement;
  }

  public static DType fromWire(byte b) throws CorruptFrameException {
    for (DType t : values()) {
      if (t.wire == b) {
        return t;
      }
    }
    throw new CorruptFrameException("unknown dtype byte " + (b & 0xff));
  }
}
