package io.skippipe.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.LossResult;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.TokenBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Perplexity with stages omitted equals exp of the loss of the reduced path [0, kept stages in
 * order] computed through the host-buffer API (a different code path: float copies between stages,
 * mean instead of summed NLL, grad mode on).
 */
class PerplexityTest {
  static final LlamaConfig CFG = LlamaConfig.of(16, 4, 2, 1, 24, 32, 8, 1);

  @Test
  void omittingStagesEqualsRunningTheReducedPath() {
    SplittableRandom rng = new SplittableRandom(3);
    List<int[]> seqs = new ArrayList<>();
    for (int n = 0; n < 6; n++) {
      int[] s = new int[CFG.seqLen() + 1];
      for (int i = 0; i < s.length; i++) {
        s[i] = rng.nextInt(CFG.vocab());
      }
      seqs.add(s);
    }
    List<StageModel> stages = new ArrayList<>();
    for (int s = 0; s < CFG.stages(); s++) {
      stages.add(StageModel.create(CFG, s, 5));
    }
    try {
      for (Set<Integer> omitted : List.of(Set.<Integer>of(), Set.of(2), Set.of(1, 3))) {
        int[] path =
            java.util.stream.IntStream.range(0, CFG.stages())
                .filter(s -> !omitted.contains(s))
                .toArray();
        // batches of 2 sequences; every batch has the same token count, so the mean of the
        // per-batch mean losses is the mean over all tokens
        double lossSum = 0;
        for (int b = 0; b < 3; b++) {
          int[] tokens =
              java.util.stream.Stream.of(seqs.get(2 * b), seqs.get(2 * b + 1))
                  .flatMapToInt(java.util.Arrays::stream)
                  .toArray();
          TokenBatch tb = TokenBatch.of(tokens, CFG.seqLen());
          float[] h = stages.get(0).forwardTokens(b, tb.inputIds());
          for (int i = 1; i < path.length; i++) {
            h = stages.get(path[i]).forward(b, h);
          }
          stages.get(0).zeroGradients(List.of(b));
          LossResult<float[]> r = stages.get(0).lossAndBackwardStart(b, h, tb.targets(), 1f);
          lossSum += r.loss();
          for (int s : path) {
            stages.get(s).abort(b);
          }
        }
        Perplexity.Result result = Perplexity.evaluate(stages, seqs, omitted, 4);
        assertEquals(lossSum / 3, result.meanNll(), 1e-5, "omitted " + omitted);
        assertEquals(Math.exp(result.meanNll()), result.perplexity(), 1e-9);
        assertEquals(6L * CFG.seqLen(), result.tokens());
      }
      assertNotEquals(
          Perplexity.evaluate(stages, seqs, Set.of(), 6).meanNll(),
          Perplexity.evaluate(stages, seqs, Set.of(2), 6).meanNll());
      assertThrows(
          IllegalArgumentException.class, () -> Perplexity.evaluate(stages, seqs, Set.of(0), 2));
      assertThrows(
          IllegalArgumentException.class, () -> Perplexity.evaluate(stages, seqs, Set.of(9), 2));
      assertThrows(
          IllegalArgumentException.class,
          () ->
              Perplexity.evaluate(
                  stages, List.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 99}), Set.of(), 2));
    } finally {
      stages.forEach(StageModel::close);
    }
  }
}
