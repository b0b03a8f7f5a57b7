package io.skippipe.model.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import org.junit.jupiter.api.Test;

class StageSmokeTest {
  @Test
  void oneStageForwardLossBackward() {
    LlamaConfig cfg = LlamaConfig.of(32, 2, 4, 2, 48, 64, 8, 2);
    try (StageModel s = StageModel.create(cfg, 0, 7)) {
      int[] ids = new int[2 * 8];
      int[] tg = new int[2 * 8];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = (i * 7) % 64;
        tg[i] = (i * 11 + 3) % 64;
      }
      s.zeroGradients(java.util.List.of(0));
      float[] h = s.forwardTokens(0, ids);
      assertEquals(2 * 8 * 32, h.length);
      LossResult<float[]> r = s.lossAndBackwardStart(0, h, tg, 1f);
      System.out.println("loss " + r.loss() + " ln(V)=" + Math.log(64));
      assertTrue(Math.abs(r.loss() - Math.log(64)) < 0.5);
      float[] g = s.backward(0, r.gradHidden());
      assertEquals(0, g.length);
      assertTrue(s.gradientSumOfSquares() > 0);
      System.out.println(
          "intra-op threads "
              + ai.djl.pytorch.jni.JniUtils.getNumThreads()
              + ", open arrays "
              + s.openArrayCount()
              + " params "
              + s.parameterNames().size());
    }
  }
}
