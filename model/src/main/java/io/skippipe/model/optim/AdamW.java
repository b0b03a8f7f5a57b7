package io.skippipe.model.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.StageModel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization") over one stage's
 * parameters, on NDArrays, with exportable state. Follows PyTorch's {@code torch.optim.AdamW}
 * exactly; for step {@code t = step()+1}, gradient {@code g = clipScale · grad}:
 *
 * <pre>
 *   p ← p · (1 − lr·λ)                      (decoupled weight decay; matrices only)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)
 * </pre>
 *
 * <p>RMSNorm weights (1-D) get no weight decay, as is usual for LLaMA training. State: {@code m}
 * ({@code exp_avg}) and {@code v} ({@code exp_avg_sq}) per parameter, plus the step count. {@link
 * #exportState()} keys them {@code "<hf name>.exp_avg"} and {@code "<hf name>.exp_avg_sq"}. The
 * state lives in the optimizer's own manager. The step reads the stage's summed gradients ({@link
 * StageModel#accumulatedGradients()}, which throws while an expected microbatch is missing) and
 * does not zero them (the next {@link StageModel#zeroGradients} does).
 */
public final class AdamW implements AutoCloseable {
  /** Suffix of the first-moment state keys. */
  public static final String EXP_AVG = ".exp_avg";

  /** Suffix of the second-moment state keys. */
  public static final String EXP_AVG_SQ = ".exp_avg_sq";

  private final StageModel stageModel;
  private final AdamWConfig config;
  private final NDManager manager;
  private final Map<String, NDArray> expAvg = new LinkedHashMap<>();
  private final Map<String, NDArray> expAvgSq = new LinkedHashMap<>();
  private long step;

  /** An optimizer for {@code stageModel}'s parameters with zero moments and step 0. */
  public AdamW(StageModel stageModel, AdamWConfig config) {
    this.stageModel = stageModel;
    this.config = config;
    this.manager = NDManager.newBaseManager(stageModel.device(), "PyTorch");
    this.manager.setName("adamw-stage-" + stageModel.stage());
    for (Map.Entry<String, NDArray> e : stageModel.parameters().entrySet()) {
      expAvg.put(e.getKey(), manager.zeros(e.getValue().getShape()));
      expAvgSq.put(e.getKey(), manager.zeros(e.getValue().getShape()));
    }
  }

  /** Number of steps taken so far. */
  public long step() {
    return step;
  }

  /** The hyper-parameters. */
  public AdamWConfig config() {
    return config;
  }

  /**
   * One AdamW step with learning rate {@code lr} on gradients scaled by {@code clipScale} (from
   * {@link GradientClipping#clipScale}; 1 for no clipping).
   */
  public void step(double lr, double clipScale) {
    if (!(lr >= 0) || !Double.isFinite(lr) || !(clipScale > 0) || !Double.isFinite(clipScale)) {
      throw new IllegalArgumentException(
          "AdamW step needs lr >= 0 and clipScale > 0, both finite; got lr="
              + lr
              + ", clipScale="
              + clipScale);
    }
    long t = step + 1;
    double bias1 = 1 - Math.pow(config.beta1(), t);
    double bias2 = 1 - Math.pow(config.beta2(), t);
    float stepSize = (float) (lr / bias1);
    float sqrtBias2 = (float) Math.sqrt(bias2);
    synchronized (stageModel) {
      Map<String, NDArray> grads = stageModel.accumulatedGradients();
      AutogradAdapter.withoutGrad(
          () -> {
            for (Map.Entry<String, NDArray> e : stageModel.parameters().entrySet()) {
              update(
                  e.getValue(),
                  grads.get(e.getKey()),
                  expAvg.get(e.getKey()),
                  expAvgSq.get(e.getKey()),
                  lr,
                  (float) clipScale,
                  stepSize,
                  sqrtBias2);
            }
            return null;
          });
      stageModel.parametersUpdated();
    }
    step = t;
  }

  private void update(
      NDArray param,
      NDArray grad,
      NDArray m,
      NDArray v,
      double lr,
      float clipScale,
      float stepSize,
      float sqrtBias2) {
    try (NDManager tmp = manager.newSubManager()) {
      // g = clipScale · grad (grad is the stage's live sum: results attached to tmp)
      NDArray g = grad.mul(clipScale);
      g.attach(tmp);
      // decoupled weight decay on matrices: p ← p · (1 − lr·λ)
      if (param.getShape().dimension() > 1 && config.weightDecay() > 0) {
        param.muli((float) (1 - lr * config.weightDecay()));
      }
      // first moment: m ← β1·m + (1 − β1)·g
      m.muli((float) config.beta1()).addi(g.mul((float) (1 - config.beta1())));
      // second moment: v ← β2·v + (1 − β2)·g²
      v.muli((float) config.beta2()).addi(g.square().mul((float) (1 - config.beta2())));
      // denominator sqrt(v)/sqrt(1 − β2^t) + ε (v's temporaries moved into tmp)
      NDArray sqrtV = v.sqrt();
      sqrtV.attach(tmp);
      NDArray denom = sqrtV.div(sqrtBias2).add((float) config.eps());
      // p ← p − stepSize · m / denom
      NDArray ratio = m.div(denom);
      ratio.attach(tmp);
      param.subi(ratio.mul(stepSize));
    }
  }

  /** The moments keyed {@code "<hf name>.exp_avg"} / {@code ".exp_avg_sq"}, as host copies. */
  public Map<String, float[]> exportState() {
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    for (String name : expAvg.keySet()) {
      out.put(name + EXP_AVG, expAvg.get(name).toFloatArray());
      out.put(name + EXP_AVG_SQ, expAvgSq.get(name).toFloatArray());
    }
    return out;
  }

  /**
   * One moment as a host copy, keyed as in {@link #exportState()} ({@code "<hf name>.exp_avg"} or
   * {@code ".exp_avg_sq"}): checkpoints write the state tensor by tensor.
   *
   * @throws IllegalArgumentException for an unknown key
   */
  public float[] exportState(String key) {
    return AutogradAdapter.toHostFloats(moment(key));
  }

  /**
   * Overwrites one moment (key as {@link #exportState(String)}) from {@code values}.
   *
   * @throws IllegalArgumentException for an unknown key or a wrong element count
   */
  public void importState(String key, float[] values) {
    NDArray m = moment(key);
    if (values.length != m.getShape().size()) {
      throw new IllegalArgumentException("optimizer state " + key + " has " + values.length
          + " values, expected " + m.getShape().size() + "; the file belongs to another model.");
    }
    AutogradAdapter.assign(m, values);
  }

  /** Sets the step count (for bias correction) after the moments were restored. */
  public void setStep(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("optimizer step " + step + " must be >= 0");
    }
    this.step = step;
  }

  private NDArray moment(String key) {
    NDArray m = null;
    if (key.endsWith(EXP_AVG_SQ)) {
      m = expAvgSq.get(key.substring(0, key.length() - EXP_AVG_SQ.length()));
    } else if (key.endsWith(EXP_AVG)) {
      m = expAvg.get(key.substring(0, key.length() - EXP_AVG.length()));
    }
    if (m == null) {
      throw new IllegalArgumentException("the optimizer of stage " + stageModel.stage()
          + " has no state " + key + "; keys are <parameter>" + EXP_AVG + " and <parameter>"
          + EXP_AVG_SQ + " of " + expAvg.keySet());
    }
    return m;
  }

  /** Restores moments (keys as {@link #exportState()}) and the step count. */
  public void importState(Map<String, float[]> state, long step) {
    if (step < 0) {
      throw new IllegalArgumentException("optimizer step " + step + " must be >= 0");
    }
    for (String name : expAvg.keySet()) {
      for (String key : new String[] {name + EXP_AVG, name + EXP_AVG_SQ}) {
        float[] v = state.get(key);
        if (v == null) {
          throw new IllegalArgumentException(
              "optimizer state lacks "
                  + key
                  + "; load the optimizer file saved with these weights.");
        }
        if (v.length != expAvg.get(name).getShape().size()) {
          throw new IllegalArgumentException(
              "optimizer state "
                  + key
                  + " has "
                  + v.length
                  + " values, expected "
                  + expAvg.get(name).getShape().size()
                  + "; the file belongs to another model.");
        }
      }
    }
    for (String name : expAvg.keySet()) {
      AutogradAdapter.assign(expAvg.get(name), state.get(name + EXP_AVG));
      AutogradAdapter.assign(expAvgSq.get(name), state.get(name + EXP_AVG_SQ));
    }
    this.step = step;
  }

  /** Arrays held by the optimizer's manager (leak accounting in tests). */
  public int openArrayCount() {
    return manager.getManagedArrays().size();
  }

  @Override
  public void close() {
    manager.close();
  }
}
