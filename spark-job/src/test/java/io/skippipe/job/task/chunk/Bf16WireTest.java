package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.DType;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.Precision;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import io.skippipe.model.train.TokenBatch;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Issue 9 item 2: a bf16 stage's activations cross the wire in half the bytes, losslessly. */
class Bf16WireTest {
  @Test
  void bf16ActivationBlocksCarryHalfTheBytesAndTheSameValues() {
    LlamaConfig cfg = LlamaConfig.of(32, 4, 4, 2, 48, 64, 8, 2);
    int[] tokens = new int[2 * (cfg.seqLen() + 1)];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(cfg.vocab());
    }
    StageOptions bf16 = StageOptions.defaults().withPrecision(Precision.BF16);
    int[] ids = TokenBatch.of(tokens, cfg.seqLen()).inputIds();
    // two identical stages: one answers in float[] (the reference), one in its wire form
    try (StageModel a = StageModel.create(cfg, 0, 3, bf16);
        StageModel b = StageModel.create(cfg, 0, 3, bf16)) {
      a.zeroGradients(List.of(0));
      b.zeroGradients(List.of(0));
      float[] h = a.forwardTokens(0, ids);
      ByteBuffer wire = b.forwardTokens(0, ids, Block::allocatePayload);
      long[] shape = {2, cfg.seqLen(), cfg.dim()};
      try (Block block = Block.ofPooled(BlockType.ACTIVATION, DType.BF16, 1, 0, 0, 0, 1, wire,
          shape)) {
        assertEquals(2L * h.length, block.header().payloadBytes(),
            "bf16 halves the activation bytes");
        ByteBuffer in = block.buffer();
        float[] back = new float[h.length];
        for (int i = 0; i < back.length; i++) {
          back[i] = Float.intBitsToFloat((in.getShort() & 0xffff) << 16); // bf16 = upper half
        }
        assertArrayEquals(h, back, "bf16 values survive the 2-byte encoding exactly");
      }
    }
  }

  @Test
  void theWireFormRoundsToNearestEvenAndWidensExactly() {
    // hand-computed: bf16 keeps 8 significant bits (7 stored); 1 + 2^-8 is a tie between 1 and
    // 1 + 2^-7 and goes to the even one (1); 1 + 3·2^-8 ties between 1 + 2^-7 and 1 + 2^-6 (even)
    float[] in = {1.0f + 0x1p-20f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f, 0f};
    float[] expected = {1.0f, 1.0f, 1.0f + 0x1p-6f, -2.5f, 0f};
    ByteBuffer f32 = ByteBuffer.allocateDirect(4 * in.length).order(ByteOrder.nativeOrder());
    f32.asFloatBuffer().put(in);
    ByteBuffer wire = ByteBuffer.allocate(2 * in.length);
    assertEquals(-1, Precision.BF16.encode(f32, wire));
    wire.flip();
    assertEquals(2 * in.length, wire.remaining());
    float[] out = new float[in.length];
    Precision.BF16.toFloat32(wire).asFloatBuffer().get(out);
    assertArrayEquals(expected, out);

    ByteBuffer big = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
    big.putFloat(1f).putFloat(Float.MAX_VALUE).flip();
    assertEquals(1, Precision.BF16.encode(big, ByteBuffer.allocate(4)),
        "a finite float32 beyond bfloat16's range is reported, not sent as infinity");
  }
}
