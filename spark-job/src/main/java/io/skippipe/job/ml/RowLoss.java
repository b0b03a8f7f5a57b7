package io.skippipe.job.ml;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.StageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The next-token loss of one row of token ids under a model's stages, some possibly omitted.
 *
 * <p>A row of {@code n} ids has {@code n-1} next-token targets. The model sees at most {@code
 * seqLen} positions, so the row is cut into windows of at most {@code seqLen+1} ids that overlap by
 * one id ({@code [0, seqLen]}, {@code [seqLen, 2·seqLen]}, ...): every target is predicted exactly
 * once, from the context inside its window. The loss is the mean NLL (nats) over all targets; a
 * window of exactly {@code seqLen+1} ids is what {@link io.skippipe.model.eval.Perplexity} scores.
 * Stage 0 (embedding, final norm, LM head) always runs; kept stages run in their original order.
 */
final class RowLoss {
  private final StageModel first;
  private final List<StageModel> kept;
  private final int seqLen;
  private final int vocab;

  /** {@code stages} all stages of the model, stage 0 first; {@code omitted} stages 1.. to skip. */
  RowLoss(List<StageModel> stages, Set<Integer> omitted) {
    this.first = stages.get(0);
    this.kept = new ArrayList<>();
    for (StageModel s : stages) {
      if (s.stage() != 0 && !omitted.contains(s.stage())) {
        kept.add(s);
      }
    }
    this.seqLen = first.config().seqLen();
    this.vocab = first.config().vocab();
  }

  /** Summed NLL (nats) and target count of {@code ids}; count 0 when the row has under 2 ids. */
  double[] sumNll(int[] ids) {
    for (int id : ids) {
      if (id < 0 || id >= vocab) {
        throw new IllegalArgumentException("token id " + id + " is outside the model's vocabulary"
            + " [0, " + vocab + "); tokenize the text with the tokenizer the model was trained"
            + " with (SkipPipeTokenizer with the same tokenizer.json)");
      }
    }
    double sum = 0;
    long count = 0;
    for (int start = 0; start + 1 < ids.length; start += seqLen) {
      int end = Math.min(ids.length, start + seqLen + 1);
      sum += windowNll(ids, start, end);
      count += end - start - 1;
    }
    return new double[] {sum, count};
  }

  private double windowNll(int[] ids, int start, int end) {
    int time = end - start - 1;
    long[] input = new long[time];
    long[] target = new long[time];
    for (int t = 0; t < time; t++) {
      input[t] = ids[start + t];
      target[t] = ids[start + t + 1];
    }
    try (NDManager scope = NDManager.newBaseManager(first.device(), "PyTorch")) {
      return AutogradAdapter.withoutGrad(() -> {
        Shape bt = new Shape(1, time);
        NDArray hBTD = first.applyLayers(first.embed(AutogradAdapter.owned(scope, input, bt)));
        for (StageModel s : kept) {
          hBTD = s.applyLayers(hBTD);
        }
        NDArray targetsBT = AutogradAdapter.owned(scope, target, bt);
        return (double) StageModel.sumCrossEntropy(first.logits(hBTD), targetsBT).getFloat();
      });
    }
  }
}
