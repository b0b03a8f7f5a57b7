package io.skippipe.model.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.train.TokenBatch;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * Issue 11 item 1: the buffer API (what the runtime sends and receives) gives the float[] API's
 * bits (the single-process trainer's), checks finiteness in libtorch, and leaks no arrays.
 */
class StageWireTest {
  static final LlamaConfig CFG = PrecisionAndRecomputeTest.CFG;

  /** Direct buffers (the transfer pool's, from 16 KiB) and heap ones (its small payloads). */
  static final IntFunction<ByteBuffer> DIRECT =
      n -> ByteBuffer.allocateDirect(n).order(ByteOrder.LITTLE_ENDIAN);

  static final IntFunction<ByteBuffer> HEAP =
      n -> ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);

  /** Float32 values of a wire buffer, decoded independently of {@link Precision#toFloat32}. */
  static float[] decode(ByteBuffer wire, Precision p) {
    ByteBuffer in = wire.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[in.remaining() / p.bytesPerElement()];
    for (int i = 0; i < out.length; i++) {
      out[i] = p == Precision.FP32 ? in.getFloat() : Float.intBitsToFloat(in.getShort() << 16);
    }
    return out;
  }

  @Test
  void bufferApiGivesTheFloatApisBitsInBothPrecisionsWithAndWithoutRecompute() {
    int[] tokens = PrecisionAndRecomputeTest.tokens(5);
    for (Precision p : Precision.values()) {
      for (boolean recompute : new boolean[] {false, true}) {
        StageOptions o =
            StageOptions.defaults().withPrecision(p).withActivationCheckpointing(recompute);
        for (IntFunction<ByteBuffer> alloc : List.of(DIRECT, HEAP)) {
          String what =
              p + (recompute ? " recompute" : "") + (alloc == DIRECT ? " direct" : " heap");
          compare(o, tokens, alloc, what);
        }
      }
    }
  }

  private static void compare(
      StageOptions o, int[] tokens, IntFunction<ByteBuffer> alloc, String what) {
    Precision p = o.precision();
    TokenBatch b = TokenBatch.of(tokens, CFG.seqLen());
    try (StageModel a0 = StageModel.create(CFG, 0, 7, o);
        StageModel a1 = StageModel.create(CFG, 1, 7, o);
        StageModel w0 = StageModel.create(CFG, 0, 7, o);
        StageModel w1 = StageModel.create(CFG, 1, 7, o)) {
      for (StageModel s : List.of(a0, a1, w0, w1)) {
        s.zeroGradients(List.of(3));
      }
      float[] h0 = a0.forwardTokens(3, b.inputIds());
      ByteBuffer wh0 = w0.forwardTokens(3, b.inputIds(), alloc);
      assertEquals(h0.length * p.bytesPerElement(), wh0.remaining(), what);
      assertArrayEquals(h0, decode(wh0, p), what + ": forwardTokens");
      float[] h1 = a1.forward(3, h0);
      ByteBuffer wh1 = w1.forward(3, wh0, alloc);
      assertEquals(0, wh0.position(), "the input buffer is not advanced");
      assertArrayEquals(h1, decode(wh1, p), what + ": forward");
      LossResult<float[]> r = a0.lossAndBackwardStart(3, h1, b.targets(), 0.5f);
      LossResult<ByteBuffer> wr = w0.lossAndBackwardStart(3, wh1, b.targets(), 0.5f, alloc);
      assertEquals(Float.floatToRawIntBits(r.loss()), Float.floatToRawIntBits(wr.loss()), what);
      assertArrayEquals(r.gradHidden(), decode(wr.gradHidden(), p), what + ": loss gradient");
      float[] g1 = a1.backward(3, r.gradHidden());
      ByteBuffer wg1 = w1.backward(3, wr.gradHidden(), alloc);
      assertArrayEquals(g1, decode(wg1, p), what + ": backward");
      assertEquals(0, a0.backward(3, g1).length);
      assertEquals(0, w0.backward(3, wg1, alloc).remaining());
      assertArrayEquals(a0.flatGradients(), w0.flatGradients(), what + ": stage 0 gradients");
      assertArrayEquals(a1.flatGradients(), w1.flatGradients(), what + ": stage 1 gradients");
    }
  }

  /**
   * The check is proven by breaking the input: a NaN in one weight of stage 1 (its first layer's
   * q_proj; the attention spreads it over every position) and an infinity in the hidden state
   * that reaches the loss.
   */
  @Test
  void aNonFiniteValueIsStoppedBeforeItLeavesTheStage() {
    int[] tokens = PrecisionAndRecomputeTest.tokens(6);
    TokenBatch b = TokenBatch.of(tokens, CFG.seqLen());
    try (StageModel s0 = StageModel.create(CFG, 0, 7);
        StageModel s1 = StageModel.create(CFG, 1, 7)) {
      s0.zeroGradients(List.of(0, 1));
      s1.zeroGradients(List.of(0, 1));
      ByteBuffer h = s0.forwardTokens(0, b.inputIds(), DIRECT);
      s1.forward(1, h, DIRECT); // builds the stage's lazy constants (rotary tables, mask)
      s1.abort(1);
      int idle = s1.openArrayCount();
      String q = "model.layers." + CFG.firstLayer(1) + ".self_attn.q_proj.weight";
      float[] weight = s1.exportWeight(q);
      float[] broken = weight.clone();
      broken[0] = Float.NaN;
      s1.importWeight(q, broken);
      NonFiniteException e =
          assertThrows(NonFiniteException.class, () -> s1.forward(0, h, DIRECT));
      assertEquals(1, e.stage());
      assertTrue(
          e.getMessage().matches("stage 1: forward of microbatch 0 produced NaN at element \\d+ of "
              + (2 * CFG.seqLen() * CFG.dim())),
          e.getMessage());
      assertEquals(0, s1.inFlight(), "the failed microbatch is dropped");
      assertEquals(idle, s1.openArrayCount(), "and leaves no array behind");
      // the same call with the weight restored passes the check
      s1.importWeight(q, weight);
      assertEquals(h.remaining(), s1.forward(0, h, DIRECT).remaining());

      ByteBuffer inf = DIRECT.apply(h.remaining());
      inf.put(h.duplicate()).flip();
      inf.putFloat(4 * 5, Float.NEGATIVE_INFINITY);
      NonFiniteException loss =
          assertThrows(
              NonFiniteException.class,
              () -> s0.lossAndBackwardStart(0, inf, b.targets(), 1f, DIRECT));
      assertTrue(
          loss.problem().startsWith("loss gradient of microbatch 0 produced NaN at element "),
          loss.problem());
    }
  }

  /** Many microbatches through the buffer API: the stages hold as many arrays as after one. */
  @Test
  void theBufferPathLeaksNoArrays() {
    StageOptions bf16 = StageOptions.defaults().withPrecision(Precision.BF16);
    try (StageModel s0 = StageModel.create(CFG, 0, 7, bf16);
        StageModel s1 = StageModel.create(CFG, 1, 7, bf16)) {
      int[] after = null;
      for (int mb = 0; mb < 40; mb++) {
        s0.zeroGradients(List.of(mb));
        s1.zeroGradients(List.of(mb));
        TokenBatch b = TokenBatch.of(PrecisionAndRecomputeTest.tokens(mb), CFG.seqLen());
        IntFunction<ByteBuffer> alloc = mb % 2 == 0 ? DIRECT : HEAP;
        ByteBuffer h = s1.forward(mb, s0.forwardTokens(mb, b.inputIds(), alloc), alloc);
        LossResult<ByteBuffer> r = s0.lossAndBackwardStart(mb, h, b.targets(), 1f, alloc);
        s0.backward(mb, s1.backward(mb, r.gradHidden(), alloc), alloc);
        s0.gradientSumOfSquares();
        int[] now = {s0.openArrayCount(), s1.openArrayCount()};
        if (after == null) {
          after = now;
        }
        assertEquals(Arrays.toString(after), Arrays.toString(now), "microbatch " + mb);
      }
    }
  }
}
