package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.testing.TestPlans;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.LossResult;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.TokenBatch;
import org.junit.jupiter.api.Test;

/**
 * The runtime interleaves microbatches on a stage (forward mb1 before backward mb0); the gradients
 * must not depend on that order, to the bit (the stage sums per-microbatch gradients in id order).
 * Checked on the model's host-buffer API directly.
 */
class InterleavingProbeTest {
  @Test
  void gradientsDoNotDependOnTheInterleaving() {
    LlamaConfig cfg = Models.llama(TestPlans.MODEL);
    float[] sequential;
    float[] interleaved;
    try (StageModel s0 = StageModel.create(cfg, 0, 3); StageModel s1 = StageModel.create(cfg, 1, 3)) {
      s0.zeroGradients(java.util.List.of(0, 1));
      s1.zeroGradients(java.util.List.of(0, 1));
      for (int mb = 0; mb < 2; mb++) {
        TokenBatch b = TokenBatch.of(TestPlans.tokens(0, mb), cfg.seqLen());
        float[] h = s1.forward(mb, s0.forwardTokens(mb, b.inputIds()));
        LossResult<float[]> r = s0.lossAndBackwardStart(mb, h, b.targets(), 0.5f);
        s0.backward(mb, s1.backward(mb, r.gradHidden()));
      }
      sequential = concat(s0.flatGradients(), s1.flatGradients());
    }
    try (StageModel s0 = StageModel.create(cfg, 0, 3); StageModel s1 = StageModel.create(cfg, 1, 3)) {
      s0.zeroGradients(java.util.List.of(0, 1));
      s1.zeroGradients(java.util.List.of(0, 1));
      TokenBatch b0 = TokenBatch.of(TestPlans.tokens(0, 0), cfg.seqLen());
      TokenBatch b1 = TokenBatch.of(TestPlans.tokens(0, 1), cfg.seqLen());
      float[] h0 = s0.forwardTokens(0, b0.inputIds());
      float[] h1 = s0.forwardTokens(1, b1.inputIds());
      float[] o1 = s1.forward(1, h1);
      float[] o0 = s1.forward(0, h0);
      LossResult<float[]> r1 = s0.lossAndBackwardStart(1, o1, b1.targets(), 0.5f);
      LossResult<float[]> r0 = s0.lossAndBackwardStart(0, o0, b0.targets(), 0.5f);
      float[] g1 = s1.backward(1, r1.gradHidden());
      float[] g0 = s1.backward(0, r0.gradHidden());
      s0.backward(0, g0);
      s0.backward(1, g1);
      interleaved = concat(s0.flatGradients(), s1.flatGradients());
    }
    assertArrayEquals(sequential, interleaved, "interleaving changed the gradient bits");
  }

  private static float[] concat(float[] a, float[] b) {
    float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
