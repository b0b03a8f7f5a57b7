package io.skippipe.model.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Perplexity {@code exp(mean next-token NLL)} over held-out sequences, for the full model or with
 * chosen stages omitted — the paper's layer-omission experiment. Stage 0 (embedding, its layers,
 * final norm, LM head) is always kept; the remaining stages run in their original order.
 */
public final class Perplexity {

  /** The mean negative log-likelihood per token (nats), its perplexity, and the token count. */
  public record Result(double meanNll, double perplexity, long tokens) {}

  private Perplexity() {}

  /**
   * Evaluates {@code sequences} (each {@code seqLen+1} ids; input = first T, target = last T) in
   * batches of {@code batchSize}, skipping the stages in {@code omitted}.
   */
  public static Result evaluate(
      List<StageModel> stages, List<int[]> sequences, Set<Integer> omitted, int batchSize) {
    if (stages.isEmpty() || stages.get(0).stage() != 0) {
      throw new IllegalArgumentException("evaluation needs the model's stages with stage 0 first");
    }
    if (omitted.contains(0)) {
      throw new IllegalArgumentException(
          "stage 0 cannot be omitted: it holds the embedding, final norm and LM head; omit only"
              + " stages 1.."
              + (stages.size() - 1)
              + ".");
    }
    for (int s : omitted) {
      if (s < 0 || s >= stages.size()) {
        throw new IllegalArgumentException(
            "omitted stage "
                + s
                + " does not exist; the model has stages 0.."
                + (stages.size() - 1));
      }
    }
    if (sequences.isEmpty() || batchSize < 1) {
      throw new IllegalArgumentException(
          "perplexity needs at least one sequence and batchSize >= 1 (got "
              + sequences.size()
              + " sequences, batchSize "
              + batchSize
              + ")");
    }
    LlamaConfig cfg = stages.get(0).config();
    List<StageModel> kept = new ArrayList<>();
    for (StageModel s : stages) {
      if (s.stage() != 0 && !omitted.contains(s.stage())) {
        kept.add(s);
      }
    }
    double nllSum = 0;
    long tokens = 0;
    for (int start = 0; start < sequences.size(); start += batchSize) {
      List<int[]> chunk = sequences.subList(start, Math.min(sequences.size(), start + batchSize));
      int[] flat = chunk.stream().flatMapToInt(Arrays::stream).toArray();
      for (int id : flat) {
        if (id < 0 || id >= cfg.vocab()) {
          throw new IllegalArgumentException(
              "token id "
                  + id
                  + " is outside the vocabulary [0, "
                  + cfg.vocab()
                  + "); evaluate text tokenized with the model's tokenizer.");
        }
      }
      TokenBatch batch = TokenBatch.of(flat, cfg.seqLen());
      nllSum += batchNll(stages.get(0), kept, batch);
      tokens += (long) batch.batch() * batch.seqLen();
    }
    double mean = nllSum / tokens;
    return new Result(mean, Math.exp(mean), tokens);
  }

  private static double batchNll(StageModel first, List<StageModel> kept, TokenBatch batch) {
    try (NDManager scope = NDManager.newBaseManager(first.device(), "PyTorch")) {
      return AutogradAdapter.withoutGrad(
          () -> {
            Shape bt = new Shape(batch.batch(), batch.seqLen());
            NDArray idsBT = AutogradAdapter.owned(scope, toLong(batch.inputIds()), bt);
            NDArray targetsBT = AutogradAdapter.owned(scope, toLong(batch.targets()), bt);
            // stage 0: embedding and its layers, then the kept stages in original order
            NDArray hBTD = first.applyLayers(first.embed(idsBT));
            for (StageModel s : kept) {
              hBTD = s.applyLayers(hBTD);
            }
            // final norm, LM head, summed NLL
            return (double) StageModel.sumCrossEntropy(first.logits(hBTD), targetsBT).getFloat();
          });
    }
  }

  private static long[] toLong(int[] ids) {
    long[] out = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = ids[i];
    }
    return out;
  }
}
