package io.skippipe.job.ml;

import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.stage.StageModel;
import java.util.List;
import java.util.Set;

/**
 * The next-token loss of one row of token ids under a model's stages, some possibly omitted.
 *
 * <p>A row of {@code n} ids has {@code n-1} next-token targets. The model sees at most {@code
 * seqLen} positions, so the row is cut into windows of at most {@code seqLen+1} ids that overlap by
 * one id ({@code [0, seqLen]}, {@code [seqLen, 2·seqLen]}, ...): every target is predicted exactly
 * once, from the context inside its window. The loss is the mean NLL (nats) over all targets, each
 * window scored by {@link Perplexity#sumNll} (the project's one NLL implementation). Stage 0
 * (embedding, final norm, LM head) always runs; kept stages run in their original order.
 */
final class RowLoss {
  private final List<StageModel> stages;
  private final Set<Integer> omitted;
  private final int seqLen;

  /** {@code stages} all stages of the model, stage 0 first; {@code omitted} stages 1.. to skip. */
  RowLoss(List<StageModel> stages, Set<Integer> omitted) {
    Perplexity.checkOmitted(stages, omitted);
    this.stages = stages;
    this.omitted = Set.copyOf(omitted);
    this.seqLen = stages.get(0).config().seqLen();
  }

  /** Summed NLL (nats) and target count of {@code ids}; count 0 when the row has under 2 ids. */
  double[] sumNll(int[] ids) {
    double sum = 0;
    long count = 0;
    for (int start = 0; start + 1 < ids.length; start += seqLen) {
      int end = Math.min(ids.length, start + seqLen + 1);
      int time = end - start - 1;
      int[] input = new int[time];
      int[] target = new int[time];
      System.arraycopy(ids, start, input, 0, time);
      System.arraycopy(ids, start + 1, target, 0, time);
      sum += Perplexity.sumNll(stages, omitted, input, target, 1, time);
      count += time;
    }
    return new double[] {sum, count};
  }
}
