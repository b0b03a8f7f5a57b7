package io.skippipe.model.stage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

/**
 * The numeric precision of a stage ({@code spark.skippipe.train.precision}).
 *
 * <p>{@link #BF16} follows the mixed-precision recipe (Micikevicius et al. 2018, with bfloat16 as
 * in Megatron-LM and torchtitan): the weights the forward and backward read, every decoder layer's
 * output and the activation gradients leaving a stage are bfloat16 values, while the master
 * weights, the summed gradients, the AdamW state and the loss stay float32. Activations and
 * activation gradients cross the wire as bfloat16 (2 bytes per element instead of 4).
 *
 * <p><b>Emulated arithmetic.</b> DJL 0.36's PyTorch JNI cannot create or cast to a bfloat16 tensor
 * (its dtype switch, {@code GetScalarTypeFromDType}, has no case for {@code BFLOAT16} and ends in a
 * bare {@code throw;}: {@code toType(BFLOAT16)} or {@code zeros(..., BFLOAT16)} abort the JVM with
 * "terminate called without an active exception"; {@code Bf16SupportTest} keeps checking it, and
 * docs/OPERATIONS.md §3 has the details), so the stage keeps float32 tensors holding
 * bfloat16 values: numbers are rounded to bfloat16 (8 significant bits, round to nearest) at the
 * points above, and each op computes in float32 on those inputs — the numerics of bf16 GEMMs with
 * float32 accumulation, but not their speed or their halved activation memory. The wire saving is
 * real. See {@link #roundToBf16(float)}.
 */
public enum Precision {
  /** float32 everywhere. */
  FP32(4),
  /** bfloat16 weights, layer outputs and wire tensors; float32 master state (see class comment). */
  BF16(2);

  /** Veltkamp's splitter for keeping 24 − 16 = 8 significant bits of a float32. */
  static final float VELTKAMP_SPLITTER = 65537f;

  private final int bytesPerElement;

  Precision(int bytesPerElement) {
    this.bytesPerElement = bytesPerElement;
  }

  /** Bytes per activation element on the wire (the planner's {@code activationBytesPerElement}). */
  public int bytesPerElement() {
    return bytesPerElement;
  }

  /**
   * {@code v} rounded to the nearest bfloat16 (round half to even), as a float; NaN stays NaN.
   * bfloat16 is the upper half of a float32, so this is the float with the low 16 bits rounded off.
   */
  public static float roundToBf16(float v) {
    if (Float.isNaN(v)) {
      return v;
    }
    int bits = Float.floatToRawIntBits(v);
    int lsb = (bits >>> 16) & 1;
    int rounded = bits + 0x7fff + lsb;
    return Float.intBitsToFloat(rounded & 0xffff0000);
  }

  /** Rounds every element of {@code values} in place (no-op in {@link #FP32}); returns it. */
  public float[] round(float[] values) {
    if (this == BF16) {
      for (int i = 0; i < values.length; i++) {
        values[i] = roundToBf16(values[i]);
      }
    }
    return values;
  }

  /**
   * Writes the float32 values {@code float32} holds (native byte order, position to limit) to
   * {@code wire} in this precision's wire form, little-endian, advancing both buffers: {@link
   * #FP32} in one bulk copy (4 bytes each); {@link #BF16} 2 bytes each, every value rounded with
   * {@link #roundToBf16} and its upper half written (a value that already is a bfloat16 number —
   * a bf16 stage's activations — passes unchanged). The BF16 pass is a Java loop: DJL 0.36 has no
   * bfloat16 tensors to convert in (see the class comment).
   *
   * @return the index of the first value that became infinite by rounding to bfloat16 (a finite
   *     float32 above bfloat16's largest value), or -1; values that were not finite before are the
   *     caller's to check
   * @throws java.nio.BufferOverflowException when {@code wire} has less room than the values need
   */
  public int encode(ByteBuffer float32, ByteBuffer wire) {
    ByteBuffer in = float32.order(ByteOrder.nativeOrder());
    ByteBuffer out = wire.order(ByteOrder.LITTLE_ENDIAN);
    if (this == FP32 && in.order() == ByteOrder.LITTLE_ENDIAN) {
      out.put(in);
      return -1;
    }
    int overflow = -1;
    for (int i = 0; in.remaining() >= 4; i++) {
      float v = in.getFloat();
      if (this == FP32) {
        out.putFloat(v);
      } else {
        float r = roundToBf16(v);
        if (overflow < 0 && Float.isInfinite(r) && !Float.isInfinite(v)) {
          overflow = i;
        }
        out.putShort((short) (Float.floatToRawIntBits(r) >>> 16));
      }
    }
    return overflow;
  }

  /**
   * The float32 values of a wire buffer written by {@link #encode} ({@code wire}'s remaining
   * bytes, little-endian), as a buffer of native-order float32 at position 0: in {@link #FP32}
   * (on a little-endian machine) {@code wire}'s own bytes, not copied; in {@link #BF16} a new
   * direct buffer, every 2-byte value widened exactly (it becomes the upper half of a float).
   * {@code wire} is not advanced.
   */
  public ByteBuffer toFloat32(ByteBuffer wire) {
    ByteBuffer in = wire.slice().order(ByteOrder.LITTLE_ENDIAN);
    if (this == FP32 && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
      return in;
    }
    int n = in.remaining() / bytesPerElement;
    ByteBuffer out = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
    for (int i = 0; i < n; i++) {
      out.putFloat(
          this == FP32 ? in.getFloat() : Float.intBitsToFloat((in.getShort() & 0xffff) << 16));
    }
    return out.flip();
  }

  /**
   * Parses {@code fp32} or {@code bf16} (case-insensitive).
   *
   * @throws IllegalArgumentException naming the value and the choices
   */
  public static Precision parse(String value) {
    if (value != null) {
      for (Precision p : values()) {
        if (p.name().equalsIgnoreCase(value.trim())) {
          return p;
        }
      }
    }
    throw new IllegalArgumentException(
        "precision '" + value + "' is not one of fp32, bf16 (spark.skippipe.train.precision);"
            + " use fp32, or bf16 for bfloat16 weights and activations with float32 master state");
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
