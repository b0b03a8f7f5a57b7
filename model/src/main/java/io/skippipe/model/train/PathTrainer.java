package io.skippipe.model.train;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.GradientClipping;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.stage.LossResult;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Single-process SkipPipe training: every stage of the model in one JVM, each microbatch run along
 * its own ordered list of stages (skips and swaps), gradients accumulated over the iteration,
 * clipped by the global norm, one AdamW step per stage.
 *
 * <p>This is the reference the distributed runtime is compared against: it uses the same
 * host-buffer calls of {@link StageModel} that executors make (forward along the path, loss at
 * stage 0 with {@code lossScale = 1/microbatches}, backward along the reversed path), so the same
 * plan, data and seed give the same weights. Every stage steps every iteration, with a zero
 * gradient if no microbatch visited it (its moments still decay and weight decay still applies).
 *
 * <p>A path is a list of stage indices starting with 0 with no repeats, e.g. {@code [0,2,1,4]}
 * (stages 3 and 5 skipped, 1 and 2 swapped). Stage 0 runs the embedding and its own layers first
 * and the final norm, LM head and loss last.
 */
public final class PathTrainer implements AutoCloseable {

  /** Training settings: init seed, optimizer, schedule and clip norm ({@code <= 0}: off). */
  public record Config(long seed, AdamWConfig adamW, LrSchedule schedule, double maxGradNorm) {
    public Config {
      if (adamW == null || schedule == null) {
        throw new IllegalArgumentException("PathTrainer.Config needs adamW and schedule");
      }
    }
  }

  /** One microbatch: id, {@code B·(T+1)} token ids, and the ordered stages it visits. */
  public record Microbatch(int id, int[] tokens, int[] path) {}

  /**
   * What one iteration did: its 0-based step, mean loss, global gradient norm (before clipping),
   * lr.
   */
  public record StepResult(long step, double meanLoss, double gradNorm, double lr) {}

  private final LlamaConfig model;
  private final Config config;
  private final List<StageModel> stages = new ArrayList<>();
  private final List<AdamW> optimizers = new ArrayList<>();
  private long step;

  /** Builds all {@code model.stages()} stages from {@code config.seed()} with fresh optimizers. */
  public PathTrainer(LlamaConfig model, Config config) {
    this(model, config, StageOptions.defaults());
  }

  /** As {@link #PathTrainer(LlamaConfig, Config)} with stages run as {@code options} say. */
  public PathTrainer(LlamaConfig model, Config config, StageOptions options) {
    this.model = model;
    this.config = config;
    for (int s = 0; s < model.stages(); s++) {
      StageModel stage = StageModel.create(model, s, config.seed(), options);
      stages.add(stage);
      optimizers.add(new AdamW(stage, config.adamW()));
    }
  }

  /** The full path [0, 1, ..., K-1]. */
  public static int[] fullPath(int stages) {
    int[] p = new int[stages];
    for (int i = 0; i < stages; i++) {
      p[i] = i;
    }
    return p;
  }

  /** Checks a path: non-empty, starts at 0, stages in range, none repeated. */
  public static void checkPath(int[] path, int stages) {
    if (path.length == 0 || path[0] != 0) {
      throw new IllegalArgumentException(
          "path "
              + Arrays.toString(path)
              + " must start at stage 0 (the data node's stage, which"
              + " embeds tokens and computes the loss); put 0 first.");
    }
    boolean[] seen = new boolean[stages];
    for (int s : path) {
      if (s < 0 || s >= stages) {
        throw new IllegalArgumentException(
            "path "
                + Arrays.toString(path)
                + " names stage "
                + s
                + " but the model has stages 0.."
                + (stages - 1)
                + "; fix the plan or the model config.");
      }
      if (seen[s]) {
        throw new IllegalArgumentException(
            "path "
                + Arrays.toString(path)
                + " visits stage "
                + s
                + " twice; a SkipPipe path"
                + " visits each stage at most once.");
      }
      seen[s] = true;
    }
  }

  /** The model's stages, index = stage. */
  public List<StageModel> stages() {
    return Collections.unmodifiableList(stages);
  }

  /** The per-stage optimizers, index = stage. */
  public List<AdamW> optimizers() {
    return Collections.unmodifiableList(optimizers);
  }

  /** Optimizer steps taken so far. */
  public long step() {
    return step;
  }

  /**
   * One iteration: zero gradients (telling each stage the microbatches it will see), forward/loss/
   * backward of every microbatch along its path (gradients of the mean loss, summed per stage in
   * ascending microbatch id as in the distributed runtime, whatever the list order), global-norm clipping, AdamW step with the schedule's
   * lr. Returns the mean loss over the microbatches.
   */
  public StepResult step(List<Microbatch> microbatches) {
    if (microbatches.isEmpty()) {
      throw new IllegalArgumentException("an iteration needs at least one microbatch");
    }
    for (int s = 0; s < stages.size(); s++) {
      stages.get(s).zeroGradients(microbatchesVisiting(microbatches, s));
    }
    float lossScale = 1.0f / microbatches.size();
    double lossSum = 0;
    for (Microbatch mb : microbatches) {
      lossSum += forwardBackward(mb, lossScale);
    }
    double[] sums = new double[stages.size()];
    for (int s = 0; s < stages.size(); s++) {
      sums[s] = stages.get(s).gradientSumOfSquares();
    }
    double norm = GradientClipping.globalNorm(sums);
    double clip = GradientClipping.clipScale(norm, config.maxGradNorm());
    double lr = config.schedule().lr(step);
    for (AdamW opt : optimizers) {
      opt.step(lr, clip);
    }
    StepResult result = new StepResult(step, lossSum / microbatches.size(), norm, lr);
    step++;
    return result;
  }

  /**
   * The ids of the microbatches whose path visits {@code stage} (every microbatch visits stage 0):
   * the set a stage is told at the start of an iteration, as the runtime tells each node.
   *
   * @throws IllegalArgumentException when two microbatches share an id
   */
  public static List<Integer> microbatchesVisiting(List<Microbatch> microbatches, int stage) {
    java.util.TreeSet<Integer> ids = new java.util.TreeSet<>();
    List<Integer> visiting = new ArrayList<>();
    for (Microbatch mb : microbatches) {
      if (!ids.add(mb.id())) {
        throw new IllegalArgumentException(
            "microbatch id "
                + mb.id()
                + " appears twice in one iteration; give every microbatch its own id");
      }
      if (Arrays.stream(mb.path()).anyMatch(p -> p == stage)) {
        visiting.add(mb.id());
      }
    }
    return visiting;
  }

  /**
   * Runs one microbatch forward along its path, the loss at stage 0 and backward along the reversed
   * path, accumulating parameter gradients of {@code lossScale · loss}. Returns the loss.
   */
  public float forwardBackward(Microbatch mb, float lossScale) {
    checkPath(mb.path(), stages.size());
    TokenBatch batch = TokenBatch.of(mb.tokens(), model.seqLen());
    StageModel first = stages.get(0);
    // forward: stage 0 (embedding + its layers), then the path's other stages in order
    float[] hidden = first.forwardTokens(mb.id(), batch.inputIds());
    for (int i = 1; i < mb.path().length; i++) {
      hidden = stages.get(mb.path()[i]).forward(mb.id(), hidden);
    }
    // loss back at stage 0, backward through norm and head
    LossResult<float[]> loss =
        first.lossAndBackwardStart(mb.id(), hidden, batch.targets(), lossScale);
    // backward along the reversed path, ending in stage 0's layers and embedding
    float[] grad = loss.gradHidden();
    for (int i = mb.path().length - 1; i >= 1; i--) {
      grad = stages.get(mb.path()[i]).backward(mb.id(), grad);
    }
    first.backward(mb.id(), grad);
    return loss.loss();
  }

  @Override
  public void close() {
    for (AdamW o : optimizers) {
      o.close();
    }
    for (StageModel s : stages) {
      s.close();
    }
  }
}
