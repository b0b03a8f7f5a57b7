package io.skippipe.model.stage;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.ParameterLayout;
import io.skippipe.model.layers.Attention;
import io.skippipe.model.layers.AttentionConstants;
import io.skippipe.model.layers.DecoderLayer;
import io.skippipe.model.layers.RmsNorm;
import io.skippipe.model.layers.Rotary;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One pipeline stage of the LLaMA model: its parameters (owned by its own {@link NDManager}), its
 * microbatches in flight, and the forward/backward calls a SkipPipe node runs.
 *
 * <p>Stage s holds decoder layers [s·L, (s+1)·L). Stage 0 (the data node's stage) additionally
 * holds {@code model.embed_tokens}, {@code model.norm} and {@code lm_head}: a microbatch starts
 * there (embedding, then stage 0's layers), visits the other stages of its path in path order and
 * comes back to stage 0 for the final norm, the LM head and the loss; backward mirrors it.
 *
 * <h2>Host-buffer API (what the runtime calls; buffers are row-major float32/int32)</h2>
 *
 * <ul>
 *   <li>{@link #forwardTokens(int, int[])} — stage 0: input ids {@code [B,T]} → hidden {@code
 *       [B,T,D]} after stage 0's layers.
 *   <li>{@link #forward(int, float[])} — stage ≠ 0: hidden in {@code [B,T,D]} → hidden out.
 *   <li>{@link #lossAndBackwardStart(int, float[], int[], float)} — stage 0, when the microbatch
 *       returns: final norm → LM head → mean cross-entropy over the B·T positions; back-propagates
 *       {@code lossScale · loss} through the head at once and returns the loss and the gradient
 *       w.r.t. the incoming hidden state (to be sent to the last stage of the path, or passed to
 *       this stage's own {@link #backward} when the path is [0]).
 *   <li>{@link #backward(int, float[])} — gradient w.r.t. this stage's output → gradient w.r.t. its
 *       input (stage 0: empty array; the gradient ends in the embedding). Closes the microbatch's
 *       scope.
 * </ul>
 *
 * <p>Each forward opens a {@link MicrobatchScope} keyed by the microbatch id; several may be in
 * flight, forwards and backwards interleaved in any order, up to {@code maxInFlight} (the node's
 * memory cap). Parameter gradients of an iteration are summed over its microbatches in ascending
 * microbatch id, whatever order the calls come in ({@link #zeroGradients(Collection)}).
 * Methods are {@code synchronized}: one stage runs one task at a time; different stages may run on
 * different threads of one JVM (grad mode is per thread, see {@link AutogradAdapter}).
 *
 * <h2>Weights and gradients</h2>
 *
 * Keyed by Hugging Face names with HF shapes; the stable order of {@link #parameterNames()} is
 * {@link ParameterLayout#forStage}'s order, and {@link #flatGradients()} concatenates the gradients
 * in that order.
 *
 * <p>Shape legend: B batch (sequences per microbatch), T sequence length ({@code config.seqLen()}),
 * D model channels, V vocabulary.
 */
public final class StageModel implements AutoCloseable {
  /** No cap on microbatches in flight. */
  public static final int UNLIMITED = Integer.MAX_VALUE;

  private final LlamaConfig config;
  private final int stage;
  private final int maxInFlight;
  private final NDManager manager;
  private final LinkedHashMap<String, NDArray> params = new LinkedHashMap<>();
  private final List<ParameterLayout.Param> layout;
  private final List<DecoderLayer> layers = new ArrayList<>();
  private final NDArray embedTokens;
  private final NDArray finalNorm;
  private final NDArray lmHead;
  private final Map<Integer, AttentionConstants> constantsByLength = new HashMap<>();
  private final Set<NDArray> resident = AutogradAdapter.identitySet();
  private final Map<Integer, MicrobatchScope> inFlight = new LinkedHashMap<>();
  private final GradientAccumulator gradients;

  private StageModel(LlamaConfig config, int stage, long seed, int maxInFlight, Device device) {
    config.checkStage(stage);
    if (maxInFlight < 1) {
      throw new IllegalArgumentException(
          "maxInFlight "
              + maxInFlight
              + " must be >= 1 (microbatches a stage may hold between "
              + "forward and backward); use the node's memory cap or StageModel.UNLIMITED.");
    }
    this.config = config;
    this.stage = stage;
    this.maxInFlight = maxInFlight;
    this.manager = NDManager.newBaseManager(device, "PyTorch");
    this.manager.setName("stage-" + stage);
    this.layout = ParameterLayout.forStage(config, stage);
    for (ParameterLayout.Param p : layout) {
      NDArray a = AutogradAdapter.owned(manager, p.initialValues(seed), new Shape(p.shape()));
      a.setName(p.name());
      AutogradAdapter.requireGradient(a);
      params.put(p.name(), a);
      resident.add(a);
    }
    for (NDArray a : params.values()) {
      AutogradAdapter.materializeGradient(a, manager);
    }
    int first = config.firstLayer(stage);
    for (int l = first; l < first + config.layersPerStage(); l++) {
      layers.add(DecoderLayer.bind(l, params, config.heads(), config.kvHeads(), config.normEps()));
    }
    this.embedTokens = params.get("model.embed_tokens.weight");
    this.finalNorm = params.get("model.norm.weight");
    this.lmHead = params.get("lm_head.weight");
    Map<String, Set<GradientAccumulator.Phase>> phases = new LinkedHashMap<>();
    for (String name : params.keySet()) {
      boolean head = name.equals("model.norm.weight") || name.equals("lm_head.weight");
      phases.put(
          name,
          EnumSet.of(head ? GradientAccumulator.Phase.LOSS : GradientAccumulator.Phase.BACKWARD));
    }
    this.gradients = new GradientAccumulator(stage, manager, params, phases);
    AutogradAdapter.adoptStrays(manager, resident, null);
  }

  /** Stage {@code stage} of {@code config}, initialised deterministically from {@code seed}. */
  public static StageModel create(LlamaConfig config, int stage, long seed) {
    return new StageModel(config, stage, seed, UNLIMITED, Device.cpu());
  }

  /** As {@link #create(LlamaConfig, int, long)} with a cap on microbatches in flight. */
  public static StageModel create(LlamaConfig config, int stage, long seed, int maxInFlight) {
    return new StageModel(config, stage, seed, maxInFlight, Device.cpu());
  }

  /**
   * As {@link #create(LlamaConfig, int, long, int)} on {@code device} (e.g. {@code Device.gpu(0)}
   * where DJL's CUDA natives are installed; tests and the embedded default run on the CPU).
   */
  public static StageModel create(
      LlamaConfig config, int stage, long seed, int maxInFlight, Device device) {
    return new StageModel(config, stage, seed, maxInFlight, device);
  }

  /** The device holding this stage's parameters and activations. */
  public Device device() {
    return manager.getDevice();
  }

  /** The model configuration. */
  public LlamaConfig config() {
    return config;
  }

  /** This stage's index. */
  public int stage() {
    return stage;
  }

  // ---------------------------------------------------------------------------------------------
  // Host-buffer API

  /**
   * Stage 0's forward: embeds {@code inputIds} ({@code [B,T]}, ids in [0, vocab)) and runs stage
   * 0's layers. Returns the hidden state {@code [B,T,D]}; keeps the graph for {@link #backward}.
   */
  public synchronized float[] forwardTokens(int microbatch, int[] inputIds) {
    requireStageZero("forwardTokens");
    int batch = batchOf(inputIds.length, config.seqLen(), "inputIds", "B*T");
    checkIds(inputIds, "input id");
    MicrobatchScope scope = open(microbatch);
    try {
      return AutogradAdapter.withGrad(
          () -> {
            NDArray idsBT =
                AutogradAdapter.owned(
                    scope.manager(), toLong(inputIds), new Shape(batch, config.seqLen()));
            NDArray outBTD = applyLayers(embed(idsBT));
            scope.setOutput(outBTD);
            AutogradAdapter.adoptStrays(manager, resident, scope.manager());
            return outBTD.toFloatArray();
          });
    } catch (RuntimeException e) {
      abort(microbatch);
      throw e;
    }
  }

  /**
   * Forward of a stage other than 0: {@code hiddenIn [B,T,D]} → hidden out {@code [B,T,D]}, keeping
   * the graph for {@link #backward}.
   */
  public synchronized float[] forward(int microbatch, float[] hiddenIn) {
    if (stage == 0) {
      throw new IllegalStateException(
          "stage 0 starts a microbatch from token ids: call forwardTokens, not forward");
    }
    int batch = batchOf(hiddenIn.length, config.seqLen() * config.dim(), "hiddenIn", "B*T*D");
    MicrobatchScope scope = open(microbatch);
    try {
      return AutogradAdapter.withGrad(
          () -> {
            NDArray inBTD = AutogradAdapter.owned(scope.manager(), hiddenIn, hiddenShape(batch));
            AutogradAdapter.requireGradient(inBTD);
            scope.setInput(inBTD);
            NDArray outBTD = applyLayers(inBTD);
            scope.setOutput(outBTD);
            AutogradAdapter.adoptStrays(manager, resident, scope.manager());
            return outBTD.toFloatArray();
          });
    } catch (RuntimeException e) {
      abort(microbatch);
      throw e;
    }
  }

  /**
   * Stage 0, when microbatch {@code microbatch} returns: final norm → LM head → mean next-token
   * cross-entropy against {@code targets [B,T]}; back-propagates {@code lossScale · loss} through
   * the norm and head at once (their gradients accumulate) and returns the unscaled loss with the
   * gradient w.r.t. {@code hiddenIn}. Does not touch the microbatch's forward scope.
   */
  public synchronized LossResult lossAndBackwardStart(
      int microbatch, float[] hiddenIn, int[] targets, float lossScale) {
    requireStageZero("lossAndBackwardStart");
    int batch = batchOf(hiddenIn.length, config.seqLen() * config.dim(), "hiddenIn", "B*T*D");
    if (targets.length != batch * config.seqLen()) {
      throw new IllegalArgumentException(
          "targets has "
              + targets.length
              + " ids but the hidden state holds "
              + batch
              + " sequences of "
              + config.seqLen()
              + "; pass B*T targets (tokens 1..T).");
    }
    checkIds(targets, "target id");
    gradients.checkExpected(microbatch, GradientAccumulator.Phase.LOSS);
    try (NDManager head = manager.newSubManager()) {
      LossResult result =
          AutogradAdapter.withGrad(
              () -> {
                NDArray inBTD = AutogradAdapter.owned(head, hiddenIn, hiddenShape(batch));
                AutogradAdapter.requireGradient(inBTD);
                NDArray targetsBT =
                    AutogradAdapter.owned(head, toLong(targets), new Shape(batch, config.seqLen()));
                NDArray loss = meanCrossEntropy(logits(inBTD), targetsBT);
                float lossValue = loss.getFloat();
                AutogradAdapter.backward(loss, AutogradAdapter.ownedScalar(head, lossScale));
                gradients.collect(microbatch, GradientAccumulator.Phase.LOSS);
                float[] grad = AutogradAdapter.readGradient(inBTD);
                return new LossResult(lossValue, grad);
              });
      AutogradAdapter.adoptStrays(manager, resident, head);
      return result;
    }
  }

  /**
   * Back-propagates {@code gradOut [B,T,D]} (the gradient w.r.t. this stage's forward output) and
   * returns the gradient w.r.t. the stage's input {@code [B,T,D]}; stage 0 returns an empty array.
   * Closes the microbatch's scope.
   */
  public synchronized float[] backward(int microbatch, float[] gradOut) {
    if (inFlight.containsKey(microbatch)) {
      gradients.checkExpected(microbatch, GradientAccumulator.Phase.BACKWARD);
    }
    MicrobatchScope scope = inFlight.remove(microbatch);
    if (scope == null) {
      throw new IllegalStateException(
          "stage "
              + stage
              + " has no forward in flight for microbatch "
              + microbatch
              + " (in flight: "
              + inFlight.keySet()
              + ")");
    }
    try (scope) {
      NDArray out = scope.output();
      if (gradOut.length != out.getShape().size()) {
        throw new IllegalArgumentException(
            "gradOut has "
                + gradOut.length
                + " values but stage "
                + stage
                + "'s output "
                + out.getShape()
                + " has "
                + out.getShape().size());
      }
      NDArray gradBTD = AutogradAdapter.owned(scope.manager(), gradOut, out.getShape());
      AutogradAdapter.backward(out, gradBTD);
      gradients.collect(microbatch, GradientAccumulator.Phase.BACKWARD);
      float[] gradIn =
          scope.input() == null ? new float[0] : AutogradAdapter.readGradient(scope.input());
      AutogradAdapter.adoptStrays(manager, resident, scope.manager());
      return gradIn;
    }
  }

  /** Drops microbatch {@code microbatch}'s forward state without a backward (failure paths). */
  public synchronized void abort(int microbatch) {
    MicrobatchScope scope = inFlight.remove(microbatch);
    if (scope != null) {
      scope.close();
    }
  }

  /** Drops every microbatch in flight. */
  public synchronized void abortAll() {
    for (MicrobatchScope s : inFlight.values()) {
      s.close();
    }
    inFlight.clear();
  }

  /** Number of microbatches whose forward ran and whose backward has not. */
  public synchronized int inFlight() {
    return inFlight.size();
  }

  // ---------------------------------------------------------------------------------------------
  // Weights and gradients

  /** HF parameter names of this stage, in the stable order. */
  public List<String> parameterNames() {
    return List.copyOf(params.keySet());
  }

  /** HF shapes by name, in the stable order. */
  public Map<String, long[]> parameterShapes() {
    LinkedHashMap<String, long[]> out = new LinkedHashMap<>();
    for (ParameterLayout.Param p : layout) {
      out.put(p.name(), p.shape());
    }
    return out;
  }

  /** Total number of scalar parameters of this stage (the length of {@link #flatGradients()}). */
  public int parameterCount() {
    long n = 0;
    for (ParameterLayout.Param p : layout) {
      n += p.size();
    }
    if (n > Integer.MAX_VALUE) {
      throw new IllegalStateException(
          "stage " + stage + " has " + n + " parameters; too many for one float[]");
    }
    return (int) n;
  }

  /** A copy of every parameter, keyed by HF name, in the stable order. */
  public synchronized Map<String, float[]> exportWeights() {
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      out.put(e.getKey(), e.getValue().toFloatArray());
    }
    return out;
  }

  /**
   * Overwrites this stage's parameters from {@code weights} (keyed by HF name). Every parameter of
   * this stage must be present with the right element count; keys of other stages are ignored, so a
   * whole-model map can be loaded into any stage.
   */
  public synchronized void importWeights(Map<String, float[]> weights) {
    for (ParameterLayout.Param p : layout) {
      float[] v = weights.get(p.name());
      if (v == null) {
        throw new IllegalArgumentException(
            "weights lack "
                + p.name()
                + " needed by stage "
                + stage
                + "; load a file written for"
                + " this model (same layers and layersPerStage).");
      }
      if (v.length != p.size()) {
        throw new IllegalArgumentException(
            "weight "
                + p.name()
                + " has "
                + v.length
                + " values but shape "
                + Arrays.toString(p.shape())
                + " needs "
                + p.size()
                + "; the file was written for a different model config.");
      }
    }
    for (ParameterLayout.Param p : layout) {
      AutogradAdapter.assign(params.get(p.name()), weights.get(p.name()));
    }
  }

  /**
   * Starts an iteration's gradients: every accumulated gradient becomes zero and {@code
   * microbatches} become the ids whose gradients this stage will receive (at stage 0 every
   * microbatch of the data node; elsewhere those whose path visits this stage). Their
   * contributions are added in ascending microbatch id whatever order the backward calls arrive in
   * (see {@link GradientAccumulator}), so a node's gradient does not depend on thread or network
   * timing. A backward or loss of a microbatch not in the set throws.
   */
  public synchronized void zeroGradients(Collection<Integer> microbatches) {
    gradients.start(microbatches);
  }

  /** Arrays now held in the gradient reorder buffer (tests of its memory bound). */
  synchronized int bufferedGradientArrays() {
    return gradients.bufferedArrays();
  }

  /** The microbatch ids given to the last {@link #zeroGradients(Collection)}, ascending. */
  public synchronized Set<Integer> expectedMicrobatches() {
    return Set.copyOf(gradients.expected());
  }

  /**
   * Whether every expected microbatch's gradient has been added (readers below throw otherwise).
   */
  public synchronized boolean gradientsComplete() {
    return gradients.complete();
  }

  /**
   * The summed gradients by HF name, in {@link #parameterNames()} order: live arrays on the
   * stage's device, for the optimizer (do not close or keep them across iterations).
   *
   * @throws IllegalStateException when an expected microbatch's gradient is missing
   */
  public synchronized Map<String, NDArray> accumulatedGradients() {
    return gradients.sums("the optimizer step");
  }

  /**
   * All parameter gradients concatenated in {@link #parameterNames()} order.
   *
   * @throws IllegalStateException when an expected microbatch's gradient is missing
   */
  public synchronized float[] flatGradients() {
    float[] flat = new float[parameterCount()];
    int offset = 0;
    for (NDArray g : gradients.sums("flatGradients").values()) {
      float[] v = g.toFloatArray();
      System.arraycopy(v, 0, flat, offset, v.length);
      offset += v.length;
    }
    return flat;
  }

  /**
   * Overwrites all parameter gradients from a buffer laid out as {@link #flatGradients()} (the
   * all-reduced sum of the stage's replicas).
   *
   * @throws IllegalStateException when an expected microbatch's gradient is missing (its late
   *     arrival would be added to the overwritten sum)
   */
  public synchronized void setFlatGradients(float[] flat) {
    if (flat.length != parameterCount()) {
      throw new IllegalArgumentException(
          "flat gradient has "
              + flat.length
              + " values but stage "
              + stage
              + " has "
              + parameterCount()
              + " parameters");
    }
    Map<String, NDArray> sums = gradients.sums("setFlatGradients");
    int offset = 0;
    for (ParameterLayout.Param p : layout) {
      AutogradAdapter.assign(sums.get(p.name()), Arrays.copyOfRange(flat, offset, offset + p.size()));
      offset += p.size();
    }
  }

  /**
   * Sum of squared gradient entries over this stage's parameters (for global-norm clipping).
   *
   * @throws IllegalStateException when an expected microbatch's gradient is missing
   */
  public synchronized double gradientSumOfSquares() {
    double sum = 0;
    for (NDArray g : gradients.sums("gradientSumOfSquares").values()) {
      sum += AutogradAdapter.sumOfSquares(g);
    }
    return sum;
  }

  /** The number of arrays the stage's manager tree holds (leak accounting in tests). */
  public synchronized int openArrayCount() {
    return manager.getManagedArrays().size();
  }

  // ---------------------------------------------------------------------------------------------
  // Graph-level API (same JVM: single-graph checks and evaluation). Results belong to the input's
  // manager; grad mode is the caller's (use AutogradAdapter.withGrad / withoutGrad).

  /** The live parameter arrays by HF name (do not close them). */
  public Map<String, NDArray> parameters() {
    return Collections.unmodifiableMap(params);
  }

  /**
   * Token embedding (stage 0): {@code idsBT} (int64) → {@code [B,T,D]}, in {@code idsBT}'s manager.
   */
  public synchronized NDArray embed(NDArray idsBT) {
    requireStageZero("embed");
    return Embedding.embedding(idsBT, embedTokens, SparseFormat.DENSE).singletonOrThrow();
  }

  /** Runs this stage's layers in order on {@code hiddenBTD}; the result is in its manager. */
  public synchronized NDArray applyLayers(NDArray hiddenBTD) {
    int time = (int) hiddenBTD.getShape().get(1);
    AttentionConstants constants = attentionConstants(time);
    NDArray h = hiddenBTD;
    for (DecoderLayer layer : layers) {
      h = layer.forward(h, constants);
    }
    return h;
  }

  /** Final norm then LM head (stage 0): {@code [B,T,D]} → logits {@code [B,T,V]}. */
  public synchronized NDArray logits(NDArray hiddenBTD) {
    requireStageZero("logits");
    NDArray normedBTD = RmsNorm.forward(hiddenBTD, finalNorm, config.normEps());
    return Attention.linearNoBias(normedBTD, lmHead);
  }

  /**
   * Mean next-token cross-entropy (natural log) over all B·T positions: {@code -mean(log
   * softmax(logits)[target])}. Returns a scalar in {@code logitsBTV}'s manager.
   */
  public static NDArray meanCrossEntropy(NDArray logitsBTV, NDArray targetsBT) {
    NDArray logProbsBTV = logitsBTV.logSoftmax(-1);
    NDArray targetsBT1 = targetsBT.toType(DataType.INT64, false).expandDims(-1);
    NDArray picked = logProbsBTV.gather(targetsBT1, -1);
    return picked.neg().mean();
  }

  /** Sum of next-token negative log-likelihoods (for perplexity), as a scalar array. */
  public static NDArray sumCrossEntropy(NDArray logitsBTV, NDArray targetsBT) {
    NDArray logProbsBTV = logitsBTV.logSoftmax(-1);
    NDArray targetsBT1 = targetsBT.toType(DataType.INT64, false).expandDims(-1);
    return logProbsBTV.gather(targetsBT1, -1).neg().sum();
  }

  @Override
  public synchronized void close() {
    abortAll();
    manager.close();
  }

  // ---------------------------------------------------------------------------------------------

  private MicrobatchScope open(int microbatch) {
    if (inFlight.containsKey(microbatch)) {
      throw new IllegalStateException(
          "stage "
              + stage
              + " already holds a forward for microbatch "
              + microbatch
              + "; run its backward (or abort it) before another forward");
    }
    if (inFlight.size() >= maxInFlight) {
      throw new IllegalStateException(
          "stage "
              + stage
              + " already holds "
              + inFlight.size()
              + " microbatches in flight "
              + inFlight.keySet()
              + ", its memory cap; run a backward first");
    }
    MicrobatchScope scope = new MicrobatchScope(microbatch, manager);
    inFlight.put(microbatch, scope);
    return scope;
  }

  /** Rotary tables, causal mask and score scale for length {@code time}, built once per length. */
  private AttentionConstants attentionConstants(int time) {
    return constantsByLength.computeIfAbsent(
        time,
        t -> {
          Rotary rotary = Rotary.create(manager, t, config.headDim(), config.ropeTheta());
          // [T,T]: 0 where key position <= query position, -inf above the diagonal
          float[] mask = new float[t * t];
          for (int q = 0; q < t; q++) {
            for (int k = q + 1; k < t; k++) {
              mask[q * t + k] = Float.NEGATIVE_INFINITY;
            }
          }
          NDArray maskTT = AutogradAdapter.owned(manager, mask, new Shape(t, t));
          NDArray scale =
              AutogradAdapter.ownedScalar(manager, (float) (1.0 / Math.sqrt(config.headDim())));
          resident.addAll(Arrays.asList(rotary.constants()));
          resident.add(maskTT);
          resident.add(scale);
          return new AttentionConstants(rotary, maskTT, scale);
        });
  }

  private Shape hiddenShape(int batch) {
    return new Shape(batch, config.seqLen(), config.dim());
  }

  private void requireStageZero(String what) {
    if (stage != 0) {
      throw new IllegalStateException(
          what + " belongs to stage 0 (embedding, final norm, LM head); this is stage " + stage);
    }
  }

  private void checkIds(int[] ids, String what) {
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= config.vocab()) {
        throw new IllegalArgumentException(
            what
                + " "
                + ids[i]
                + " at position "
                + i
                + " is outside the vocabulary [0, "
                + config.vocab()
                + "); tokenize with the model's tokenizer.");
      }
    }
  }

  private static int batchOf(int length, int perSequence, String what, String layout) {
    if (length == 0 || length % perSequence != 0) {
      throw new IllegalArgumentException(
          what
              + " has "
              + length
              + " values, not a positive multiple of "
              + perSequence
              + " ("
              + layout
              + " with the model's T and D)");
    }
    return length / perSequence;
  }

  private static long[] toLong(int[] ids) {
    long[] out = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = ids[i];
    }
    return out;
  }
}
