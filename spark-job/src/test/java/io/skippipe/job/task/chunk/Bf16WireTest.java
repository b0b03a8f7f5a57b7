package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.DType;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.Precision;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import io.skippipe.model.train.TokenBatch;
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
    try (StageModel s0 = StageModel.create(cfg, 0, 3,
        StageOptions.defaults().withPrecision(Precision.BF16))) {
      s0.zeroGradients(List.of(0));
      float[] h = s0.forwardTokens(0, TokenBatch.of(tokens, cfg.seqLen()).inputIds());
      long[] shape = {2, cfg.seqLen(), cfg.dim()};
      Block fp32 = Block.ofValues(BlockType.ACTIVATION, DType.FLOAT32, 1, 0, 0, 0, 1, h, shape);
      Block bf16 = Block.ofValues(BlockType.ACTIVATION, DType.BF16, 1, 0, 0, 0, 1, h, shape);
      assertEquals(4L * h.length, fp32.payload().length);
      assertEquals(2L * h.length, bf16.payload().length, "bf16 halves the activation bytes");
      assertArrayEquals(h, bf16.floats(), "bf16 values survive the 2-byte encoding exactly");
      float[] notBf16 = {1.0f + 0x1p-20f};
      assertThrows(IllegalArgumentException.class, () -> Block.ofValues(BlockType.ACTIVATION,
          DType.BF16, 1, 0, 0, 0, 1, notBf16, 1));
    }
  }
}
