package io.skippipe.model.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Next-token negative log-likelihood and perplexity {@code exp(mean NLL)} of a model's stages, for
 * the full model or with chosen stages omitted — the paper's layer-omission experiment. This is the
 * one NLL implementation of the project: {@code bin/skippipe eval}, the MLlib model's {@code
 * transform}, training-time evaluation and {@code bench convergence} all call {@link #sumNll}.
 *
 * <p>Stage 0 (embedding, its layers, final norm, LM head) always runs; the kept stages run in their
 * original order. NLL is in nats: {@code −ln softmax(logits)[target]}, summed over positions.
 *
 * <p>Shape legend: B sequences, T positions per sequence, V vocabulary.
 */
public final class Perplexity {

  /** The mean negative log-likelihood per token (nats), its perplexity, and the token count. */
  public record Result(double meanNll, double perplexity, long tokens) {}

  private Perplexity() {}

  /**
   * Evaluates {@code sequences} (each {@code seqLen+1} ids; input = first T, target = last T) in
   * batches of {@code batchSize}, skipping the stages in {@code omitted}.
   *
   * @throws IllegalArgumentException for an omitted stage 0 or one out of range, an id outside the
   *     vocabulary, no sequences, or a batch size below 1
   */
  public static Result evaluate(
      List<StageModel> stages, List<int[]> sequences, Set<Integer> omitted, int batchSize) {
    if (sequences.isEmpty() || batchSize < 1) {
      throw new IllegalArgumentException(
          "perplexity needs at least one sequence and batchSize >= 1 (got " + sequences.size()
              + " sequences, batchSize " + batchSize + ")");
    }
    int seqLen = sequences.get(0).length - 1;
    double nllSum = 0;
    long tokens = 0;
    for (int start = 0; start < sequences.size(); start += batchSize) {
      List<int[]> chunk = sequences.subList(start, Math.min(sequences.size(), start + batchSize));
      int[] flat = chunk.stream().flatMapToInt(Arrays::stream).toArray();
      TokenBatch batch = TokenBatch.of(flat, seqLen);
      nllSum += sumNll(stages, omitted, batch.inputIds(), batch.targets(), batch.batch(),
          batch.seqLen());
      tokens += (long) batch.batch() * batch.seqLen();
    }
    double mean = nllSum / tokens;
    return new Result(mean, Math.exp(mean), tokens);
  }

  /**
   * The summed next-token NLL (nats) of one batch: {@code inputIdsBT} and {@code targetsBT} are
   * row-major {@code [batch, time]}, {@code time ≤ seqLen}. Runs without autograd in a scope of
   * its own (no array outlives the call).
   *
   * @param stages all stages of the model, stage 0 first
   * @param omitted stages 1.. to skip
   * @throws IllegalArgumentException for an invalid {@code omitted} set or an id outside the
   *     vocabulary
   */
  public static double sumNll(List<StageModel> stages, Set<Integer> omitted, int[] inputIdsBT,
      int[] targetsBT, int batch, int time) {
    checkOmitted(stages, omitted);
    StageModel first = stages.get(0);
    LlamaConfig cfg = first.config();
    if (inputIdsBT.length != batch * time || targetsBT.length != batch * time || time < 1
        || time > cfg.seqLen()) {
      throw new IllegalArgumentException("a batch of " + batch + " x " + time + " positions needs "
          + batch * time + " input ids and targets (got " + inputIdsBT.length + " and "
          + targetsBT.length + ") and 1 <= time <= seqLen " + cfg.seqLen());
    }
    checkIds(inputIdsBT, cfg.vocab());
    checkIds(targetsBT, cfg.vocab());
    List<StageModel> kept = new ArrayList<>();
    for (StageModel s : stages) {
      if (s.stage() != 0 && !omitted.contains(s.stage())) {
        kept.add(s);
      }
    }
    try (NDManager scope = NDManager.newBaseManager(first.device(), "PyTorch")) {
      return AutogradAdapter.withoutGrad(
          () -> {
            Shape bt = new Shape(batch, time);
            NDArray idsBT = AutogradAdapter.owned(scope, toLong(inputIdsBT), bt);
            NDArray targetsTensorBT = AutogradAdapter.owned(scope, toLong(targetsBT), bt);
            // stage 0: embedding and its layers, then the kept stages in original order
            NDArray hBTD = first.applyLayers(first.embed(idsBT));
            for (StageModel s : kept) {
              hBTD = s.applyLayers(hBTD);
            }
            // final norm, LM head, summed NLL
            return (double)
                StageModel.sumCrossEntropy(first.logits(hBTD), targetsTensorBT).getFloat();
          });
    }
  }

  /**
   * Checks that {@code omitted} names only stages 1..K-1 of {@code stages} (K stages, stage 0
   * first).
   *
   * @throws IllegalArgumentException naming the stage, the rule and the fix
   */
  public static void checkOmitted(List<StageModel> stages, Set<Integer> omitted) {
    if (stages.isEmpty() || stages.get(0).stage() != 0) {
      throw new IllegalArgumentException("evaluation needs the model's stages with stage 0 first");
    }
    checkOmitted(stages.size(), omitted);
  }

  /** {@link #checkOmitted(List, Set)} for a model of {@code stageCount} stages. */
  public static void checkOmitted(int stageCount, Set<Integer> omitted) {
    if (omitted.contains(0)) {
      throw new IllegalArgumentException("stage 0 cannot be omitted: it holds the embedding, final"
          + " norm and LM head; omit only stages 1.." + (stageCount - 1) + ".");
    }
    for (int s : omitted) {
      if (s < 0 || s >= stageCount) {
        throw new IllegalArgumentException("omitted stage " + s + " does not exist; the model has"
            + " stages 0.." + (stageCount - 1) + " (omit only stages 1.." + (stageCount - 1)
            + ")");
      }
    }
  }

  /**
   * {@code count} sequences spread evenly over {@code data} (all of them when it holds fewer), so
   * an evaluation covers the whole held-out split, not just its first document.
   */
  public static List<int[]> spread(PackedDataset data, int count) {
    int n = Math.min(count, data.size());
    List<int[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(data.sequence((int) ((long) i * data.size() / n)));
    }
    return out;
  }

  private static void checkIds(int[] ids, int vocab) {
    for (int id : ids) {
      if (id < 0 || id >= vocab) {
        throw new IllegalArgumentException("token id " + id + " is outside the model's vocabulary"
            + " [0, " + vocab + "); evaluate text tokenized with the model's tokenizer.");
      }
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
