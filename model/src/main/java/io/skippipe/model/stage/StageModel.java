package io.skippipe.model.stage;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.ParameterLayout;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * One pipeline stage of the LLaMA model: its parameters (owned by its own {@link NDManager}), its
 * microbatches in flight, and the forward/backward calls a SkipPipe node runs.
 *
 * <p>Stage s holds decoder layers [s·L, (s+1)·L). Stage 0 (the data node's stage) additionally
 * holds {@code model.embed_tokens}, {@code model.norm} and {@code lm_head}: a microbatch starts
 * there (embedding, then stage 0's layers), visits the other stages of its path in path order and
 * comes back to stage 0 for the final norm, the LM head and the loss; backward mirrors it.
 *
 * <h2>Host API (what the runtime calls)</h2>
 *
 * <p>Each call comes in two forms with one implementation: host arrays ({@code float[]} float32
 * values, {@code int[]} token ids; the single-process trainer and tests), and buffers in the
 * stage's wire form ({@link Precision#encode}: little-endian float32, or bfloat16 in {@link
 * Precision#BF16}; the runtime). A buffer call writes its result straight from the tensor's memory
 * into a buffer its {@code IntFunction<ByteBuffer>} hands out (the transfer's pool), after a
 * finiteness check in libtorch ({@link NonFiniteException}), and makes its input tensor from the
 * given buffer with one clone, so an activation crosses a hop with two bulk copies (see
 * docs/BENCHMARKS.md, "Block transfer").
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
 *       input (stage 0: empty; the gradient ends in the embedding). Closes the microbatch's scope.
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
 * <h2>The parts</h2>
 *
 * {@link StageParameters} (float32 master weights, compute weights, weight I/O), {@link StageGraph}
 * (the math), {@link MicrobatchScope} (what a microbatch keeps between forward and backward), {@link
 * GradientAccumulator} (gradients summed in microbatch order). {@link StageOptions} choose the
 * device, the precision ({@link Precision}), activation checkpointing and the memory cap.
 *
 * <p>Shape legend: B batch (sequences per microbatch), T sequence length ({@code config.seqLen()}),
 * D model channels, V vocabulary.
 */
public final class StageModel implements AutoCloseable {
  /** No cap on microbatches in flight. */
  public static final int UNLIMITED = StageOptions.UNLIMITED;

  private final LlamaConfig config;
  private final int stage;
  private final StageOptions options;
  private final NDManager manager;
  private final Set<NDArray> resident = AutogradAdapter.identitySet();
  private final StageParameters weights;
  private final StageGraph graph;
  private final GradientAccumulator gradients;
  private final Map<Integer, MicrobatchScope> inFlight = new LinkedHashMap<>();

  private StageModel(LlamaConfig config, int stage, long seed, StageOptions options) {
    config.checkStage(stage);
    this.config = config;
    this.stage = stage;
    this.options = options;
    this.manager = NDManager.newBaseManager(options.device(), "PyTorch");
    this.manager.setName("stage-" + stage);
    this.weights = new StageParameters(config, stage, seed, options.precision(), manager, resident);
    this.graph =
        new StageGraph(config, stage, options.precision(), weights.compute(), manager, resident);
    this.gradients = new GradientAccumulator(stage, manager, weights.compute(), phases(config));
    AutogradAdapter.adoptStrays(manager, resident, null);
  }

  /**
   * Which backward writes each parameter's gradient: the final norm and LM head get theirs from the
   * loss, everything else from the stage's backward; a tied embedding from both.
   */
  private static Map<String, Set<GradientAccumulator.Phase>> phases(LlamaConfig config) {
    Map<String, Set<GradientAccumulator.Phase>> phases = new LinkedHashMap<>();
    for (ParameterLayout.Param p : ParameterLayout.forModel(config)) {
      String name = p.name();
      Set<GradientAccumulator.Phase> ph = EnumSet.noneOf(GradientAccumulator.Phase.class);
      if (name.equals("model.norm.weight") || name.equals("lm_head.weight")) {
        ph.add(GradientAccumulator.Phase.LOSS);
      } else {
        ph.add(GradientAccumulator.Phase.BACKWARD);
      }
      if (name.equals("model.embed_tokens.weight") && config.tieWordEmbeddings()) {
        ph.add(GradientAccumulator.Phase.LOSS);
      }
      phases.put(name, ph);
    }
    return phases;
  }

  /** Stage {@code stage} of {@code config}, initialised deterministically from {@code seed}. */
  public static StageModel create(LlamaConfig config, int stage, long seed) {
    return create(config, stage, seed, StageOptions.defaults());
  }

  /** As {@link #create(LlamaConfig, int, long)} with a cap on microbatches in flight. */
  public static StageModel create(LlamaConfig config, int stage, long seed, int maxInFlight) {
    return create(config, stage, seed, StageOptions.defaults().withMaxInFlight(maxInFlight));
  }

  /**
   * Stage {@code stage} of {@code config} initialised from {@code seed}, run as {@code options} say
   * (device, precision, activation checkpointing, memory cap).
   */
  public static StageModel create(LlamaConfig config, int stage, long seed, StageOptions options) {
    return new StageModel(config, stage, seed, options);
  }

  /** The device holding this stage's parameters and activations. */
  public Device device() {
    return manager.getDevice();
  }

  /** How this stage runs. */
  public StageOptions options() {
    return options;
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
  // Host API: forward keeps what backward needs, backward mirrors it. Each call comes in two forms
  // sharing one implementation: float[] (float32 values; tests, the single-process trainer) and
  // ByteBuffer in the stage's wire form (the runtime: bytes go between the tensor and the network
  // buffer in one pass, see Precision#encode).

  /**
   * Stage 0's forward: embeds {@code inputIds} ({@code [B,T]}, ids in [0, vocab)) and runs stage
   * 0's layers. Returns the hidden state {@code [B,T,D]} (bf16 values in {@link Precision#BF16}).
   */
  public synchronized float[] forwardTokens(int microbatch, int[] inputIds) {
    return runForwardTokens(microbatch, inputIds, AutogradAdapter::toHostFloats);
  }

  /**
   * As {@link #forwardTokens(int, int[])}, the hidden state written to a buffer from {@code out}
   * in the stage's wire form ({@link Precision#encode}; position 0, limit its bytes), after a
   * check in libtorch that every value is finite.
   *
   * @param out gives a little-endian buffer with position 0 and at least the requested bytes
   *     remaining (the caller's pool)
   * @throws NonFiniteException naming the microbatch, value and element when an output value is
   *     NaN or infinite
   */
  public synchronized ByteBuffer forwardTokens(
      int microbatch, int[] inputIds, IntFunction<ByteBuffer> out) {
    return runForwardTokens(microbatch, inputIds, a -> toWire(a, "forwardTokens", microbatch, out));
  }

  private <R> R runForwardTokens(int microbatch, int[] inputIds, Function<NDArray, R> host) {
    requireStageZero("forwardTokens");
    int batch = batchOf(inputIds.length, config.seqLen(), "inputIds", "B*T");
    checkIds(inputIds, "input id");
    return forwardInScope(
        microbatch,
        scope -> {
          NDArray idsBT =
              AutogradAdapter.owned(
                  scope.manager(), toLong(inputIds), new Shape(batch, config.seqLen()));
          scope.setInput(idsBT);
          return graph.applyLayers(graph.embed(idsBT));
        },
        host);
  }

  /**
   * Forward of a stage other than 0: {@code hiddenIn [B,T,D]} → hidden out {@code [B,T,D]}, keeping
   * what {@link #backward} needs (the graph, or only the input under activation checkpointing).
   */
  public synchronized float[] forward(int microbatch, float[] hiddenIn) {
    return runForward(microbatch, hiddenFrom(hiddenIn, "hiddenIn"), AutogradAdapter::toHostFloats);
  }

  /**
   * As {@link #forward(int, float[])} with {@code hiddenIn} and the result in the stage's wire
   * form (see {@link #forwardTokens(int, int[], IntFunction)}; {@code hiddenIn}'s remaining bytes
   * are read, it is not advanced, and it may be released once this returns).
   */
  public synchronized ByteBuffer forward(
      int microbatch, ByteBuffer hiddenIn, IntFunction<ByteBuffer> out) {
    return runForward(
        microbatch,
        hiddenFrom(hiddenIn, "hiddenIn"),
        a -> toWire(a, "forward", microbatch, out));
  }

  private <R> R runForward(int microbatch, HostInput hiddenIn, Function<NDArray, R> host) {
    if (stage == 0) {
      throw new IllegalStateException(
          "stage 0 starts a microbatch from token ids: call forwardTokens, not forward");
    }
    return forwardInScope(
        microbatch,
        scope -> {
          NDArray inBTD = hiddenIn.array(scope.manager());
          AutogradAdapter.requireGradient(inBTD);
          scope.setInput(inBTD);
          return graph.applyLayers(inBTD);
        },
        host);
  }

  /**
   * Stage 0, when microbatch {@code microbatch} returns: final norm → LM head → mean next-token
   * cross-entropy (float32) against {@code targets [B,T]}; back-propagates {@code lossScale ·
   * loss} through the norm and head at once and returns the unscaled loss with the gradient w.r.t.
   * {@code hiddenIn} (rounded to bfloat16 in {@link Precision#BF16}). Does not touch the
   * microbatch's forward scope.
   */
  public synchronized LossResult<float[]> lossAndBackwardStart(
      int microbatch, float[] hiddenIn, int[] targets, float lossScale) {
    return runLoss(
        microbatch, hiddenFrom(hiddenIn, "hiddenIn"), targets, lossScale, this::roundedHostFloats);
  }

  /**
   * As {@link #lossAndBackwardStart(int, float[], int[], float)} with {@code hiddenIn} and the
   * gradient in the stage's wire form (see {@link #forwardTokens(int, int[], IntFunction)}; the
   * finiteness check names {@code "loss gradient"}).
   */
  public synchronized LossResult<ByteBuffer> lossAndBackwardStart(
      int microbatch, ByteBuffer hiddenIn, int[] targets, float lossScale,
      IntFunction<ByteBuffer> out) {
    return runLoss(
        microbatch,
        hiddenFrom(hiddenIn, "hiddenIn"),
        targets,
        lossScale,
        g -> toWire(g, "loss gradient", microbatch, out));
  }

  private <G> LossResult<G> runLoss(
      int microbatch,
      HostInput hiddenIn,
      int[] targets,
      float lossScale,
      Function<NDArray, G> host) {
    requireStageZero("lossAndBackwardStart");
    int batch = hiddenIn.batch();
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
      LossResult<G> result =
          AutogradAdapter.withGrad(
              () -> {
                NDArray inBTD = hiddenIn.array(head);
                AutogradAdapter.requireGradient(inBTD);
                NDArray targetsBT =
                    AutogradAdapter.owned(head, toLong(targets), new Shape(batch, config.seqLen()));
                NDArray loss = CrossEntropy.mean(graph.logits(inBTD), targetsBT);
                float lossValue = loss.getFloat();
                AutogradAdapter.backward(loss, AutogradAdapter.ownedScalar(head, lossScale));
                gradients.collect(microbatch, GradientAccumulator.Phase.LOSS);
                try (NDArray grad = inBTD.getGradient()) {
                  return new LossResult<>(lossValue, host.apply(grad));
                }
              });
      AutogradAdapter.adoptStrays(manager, resident, head);
      return result;
    }
  }

  /**
   * Back-propagates {@code gradOut [B,T,D]} (the gradient w.r.t. this stage's forward output) and
   * returns the gradient w.r.t. the stage's input {@code [B,T,D]} (rounded to bfloat16 in {@link
   * Precision#BF16}); stage 0 returns an empty array. Under activation checkpointing the forward is
   * recomputed from the kept input first. Closes the microbatch's scope.
   */
  public synchronized float[] backward(int microbatch, float[] gradOut) {
    return runBackward(
        microbatch, hiddenFrom(gradOut, null), this::roundedHostFloats, new float[0]);
  }

  /**
   * As {@link #backward(int, float[])} with {@code gradOut} and the result in the stage's wire
   * form (see {@link #forwardTokens(int, int[], IntFunction)}; stage 0 returns an empty buffer).
   */
  public synchronized ByteBuffer backward(
      int microbatch, ByteBuffer gradOut, IntFunction<ByteBuffer> out) {
    return runBackward(
        microbatch,
        hiddenFrom(gradOut, null),
        g -> toWire(g, "backward", microbatch, out),
        ByteBuffer.allocate(0));
  }

  private <R> R runBackward(int microbatch, HostInput gradOut, Function<NDArray, R> host, R empty) {
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
      return AutogradAdapter.withGrad(
          () -> {
            NDArray out = options.activationCheckpointing() ? recompute(scope) : scope.output();
            if (gradOut.elements != out.getShape().size()) {
              throw new IllegalArgumentException(
                  "gradOut has "
                      + gradOut.elements
                      + " values but stage "
                      + stage
                      + "'s output "
                      + out.getShape()
                      + " has "
                      + out.getShape().size());
            }
            NDArray gradBTD = gradOut.array(scope.manager(), out.getShape());
            AutogradAdapter.backward(out, gradBTD);
            gradients.collect(microbatch, GradientAccumulator.Phase.BACKWARD);
            R gradIn;
            if (stage == 0) {
              gradIn = empty;
            } else {
              try (NDArray g = scope.input().getGradient()) {
                gradIn = host.apply(g);
              }
            }
            AutogradAdapter.adoptStrays(manager, resident, scope.manager());
            return gradIn;
          });
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

  /**
   * Opens the microbatch's scope and runs {@code body} (which builds the forward from the scope's
   * input): with grad mode on, keeping the output for the backward; under activation checkpointing
   * with grad mode off, keeping only the input. Returns the output as {@code host} makes it.
   */
  private <R> R forwardInScope(
      int microbatch, Function<MicrobatchScope, NDArray> body, Function<NDArray, R> host) {
    MicrobatchScope scope = open(microbatch);
    try {
      java.util.function.Supplier<R> run =
          () -> {
            NDArray outBTD = body.apply(scope);
            AutogradAdapter.adoptStrays(manager, resident, scope.manager());
            R result = host.apply(outBTD);
            if (options.activationCheckpointing()) {
              // free every activation now; backward recomputes them from the input
              Set<NDArray> keep = AutogradAdapter.identitySet();
              keep.add(scope.input());
              AutogradAdapter.adoptStrays(scope.manager(), keep, null);
            } else {
              scope.setOutput(outBTD);
            }
            return result;
          };
      return options.activationCheckpointing()
          ? AutogradAdapter.withoutGrad(run)
          : AutogradAdapter.withGrad(run);
    } catch (RuntimeException e) {
      abort(microbatch);
      throw e;
    }
  }

  /**
   * A hidden state or its gradient handed in from the host: its element count, and how to make it
   * a libtorch-owned array (the host copy may be reused once the call returns).
   */
  private final class HostInput {
    private final long elements;
    private final BiFunction<NDManager, Shape, NDArray> make;

    /** {@code what} names the input in errors; null: the caller checks the size itself. */
    HostInput(long elements, String what, BiFunction<NDManager, Shape, NDArray> make) {
      long perSequence = (long) config.seqLen() * config.dim();
      if (what != null && (elements == 0 || elements % perSequence != 0)) {
        throw new IllegalArgumentException(
            what
                + " has "
                + elements
                + " values, not a positive multiple of "
                + perSequence
                + " (B*T*D with the model's T and D)");
      }
      this.elements = elements;
      this.make = make;
    }

    int batch() {
      return Math.toIntExact(elements / ((long) config.seqLen() * config.dim()));
    }

    NDArray array(NDManager m, Shape shape) {
      return make.apply(m, shape);
    }

    NDArray array(NDManager m) {
      return array(m, hiddenShape(batch()));
    }
  }

  private HostInput hiddenFrom(float[] values, String what) {
    return new HostInput(
        values.length, what, (m, shape) -> AutogradAdapter.owned(m, values, shape));
  }

  /** {@code wire}'s remaining bytes in this stage's wire form ({@link Precision#toFloat32}). */
  private HostInput hiddenFrom(ByteBuffer wire, String what) {
    Precision p = options.precision();
    if (wire.remaining() % p.bytesPerElement() != 0) {
      throw new IllegalArgumentException(
          (what == null ? "gradOut" : what) + " has " + wire.remaining()
              + " bytes, not a multiple of " + p.bytesPerElement() + " (" + p + " values)");
    }
    return new HostInput(
        wire.remaining() / p.bytesPerElement(),
        what,
        (m, shape) -> AutogradAdapter.owned(m, p.toFloat32(wire), shape));
  }

  /** Float path of a gradient leaving the stage: host copy, rounded in bf16. */
  private float[] roundedHostFloats(NDArray g) {
    return options.precision().round(AutogradAdapter.toHostFloats(g));
  }

  /**
   * Buffer path of anything leaving the stage: checks in libtorch that {@code a} is finite, then
   * writes it in the wire form into a buffer from {@code out} in one pass over the tensor's memory.
   */
  private ByteBuffer toWire(NDArray a, String what, int microbatch, IntFunction<ByteBuffer> out) {
    requireFinite(a, what, microbatch);
    Precision p = options.precision();
    ByteBuffer wire = out.apply(Math.toIntExact(a.size() * p.bytesPerElement()));
    int overflow = AutogradAdapter.withHostView(a, view -> p.encode(view, wire));
    if (overflow >= 0) {
      throw new NonFiniteException(stage, what + " of microbatch " + microbatch + " produced "
          + Float.POSITIVE_INFINITY + " (a value beyond bfloat16's range) at element " + overflow
          + " of " + a.size());
    }
    return wire.flip();
  }

  /**
   * Throws when {@code a} holds a NaN or an infinity: the test runs in libtorch ({@link
   * AutogradAdapter#allFinite}); only then is the first bad element looked up on the host, for the
   * message.
   */
  private void requireFinite(NDArray a, String what, int microbatch) {
    if (AutogradAdapter.allFinite(a)) {
      return;
    }
    String where =
        AutogradAdapter.withHostView(
            a,
            view -> {
              java.nio.FloatBuffer f = view.asFloatBuffer();
              for (int i = 0; i < f.limit(); i++) {
                if (!Float.isFinite(f.get(i))) {
                  return f.get(i) + " at element " + i + " of " + f.limit();
                }
              }
              return "a non-finite value";
            });
    throw new NonFiniteException(
        stage, what + " of microbatch " + microbatch + " produced " + where);
  }

  /** Activation checkpointing: the forward again from the kept input, with grad mode on. */
  private NDArray recompute(MicrobatchScope scope) {
    NDArray out =
        stage == 0
            ? graph.applyLayers(graph.embed(scope.input()))
            : graph.applyLayers(scope.input());
    AutogradAdapter.adoptStrays(manager, resident, scope.manager());
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Weights

  /** HF parameter names of this stage, in the stable order. */
  public List<String> parameterNames() {
    return List.copyOf(weights.master().keySet());
  }

  /** HF shapes by name, in the stable order. */
  public Map<String, long[]> parameterShapes() {
    return weights.shapes();
  }

  /** Total number of scalar parameters of this stage (the length of {@link #flatGradients()}). */
  public int parameterCount() {
    long n = weights.count();
    if (n > Integer.MAX_VALUE) {
      throw new IllegalStateException(
          "stage " + stage + " has " + n + " parameters; too many for one float[]");
    }
    return (int) n;
  }

  /** A copy of every (float32 master) parameter, keyed by HF name, in the stable order. */
  public synchronized Map<String, float[]> exportWeights() {
    return weights.exportAll();
  }

  /** A copy of one parameter (for writing checkpoints tensor by tensor). */
  public synchronized float[] exportWeight(String name) {
    return weights.read(name);
  }

  /**
   * Overwrites this stage's parameters from {@code weights} (keyed by HF name). Every parameter of
   * this stage must be present with the right element count; keys of other stages are ignored, so
   * a whole-model map can be loaded into any stage.
   */
  public synchronized void importWeights(Map<String, float[]> weights) {
    this.weights.importAll(weights);
  }

  /**
   * Overwrites one parameter (for reading checkpoints tensor by tensor).
   *
   * @throws IllegalArgumentException when the stage has no such parameter or the size differs
   */
  public synchronized void importWeight(String name, float[] values) {
    weights.write(name, values);
  }

  /**
   * Called by the optimizer after it changed the master parameters: refreshes the compute copies
   * (bf16). Not needed in float32.
   */
  public synchronized void parametersUpdated() {
    weights.refreshCompute();
  }

  // ---------------------------------------------------------------------------------------------
  // Gradients

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
      float[] v = AutogradAdapter.toHostFloats(g);
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
    for (Map.Entry<String, long[]> e : weights.shapes().entrySet()) {
      int n = Math.toIntExact(shapeSize(e.getValue()));
      AutogradAdapter.assign(sums.get(e.getKey()), Arrays.copyOfRange(flat, offset, offset + n));
      offset += n;
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

  private static long shapeSize(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** The number of arrays the stage's manager tree holds (leak accounting in tests). */
  public synchronized int openArrayCount() {
    return manager.getManagedArrays().size();
  }

  // ---------------------------------------------------------------------------------------------
  // Graph-level API (same JVM: single-graph checks and evaluation). Results belong to the input's
  // manager; grad mode is the caller's (use AutogradAdapter.withGrad / withoutGrad).

  /** The live float32 master parameters by HF name (do not close them). */
  public Map<String, NDArray> parameters() {
    return weights.master();
  }

  /**
   * The live compute weights by HF name: the graph's leaves, where a graph-level backward leaves
   * its gradient ({@link #parameters()} themselves in float32; bf16 copies otherwise).
   */
  public Map<String, NDArray> computeWeights() {
    return weights.compute();
  }

  /** Token embedding (stage 0): {@code idsBT} (int64) → {@code [B,T,D]} in the compute type. */
  public synchronized NDArray embed(NDArray idsBT) {
    return graph.embed(idsBT);
  }

  /** Runs this stage's layers in order on {@code hiddenBTD}; the result is in its manager. */
  public synchronized NDArray applyLayers(NDArray hiddenBTD) {
    return graph.applyLayers(hiddenBTD);
  }

  /** Final norm then LM head (stage 0): {@code [B,T,D]} → float32 logits {@code [B,T,V]}. */
  public synchronized NDArray logits(NDArray hiddenBTD) {
    return graph.logits(hiddenBTD);
  }

  /** {@link CrossEntropy#mean}. */
  public static NDArray meanCrossEntropy(NDArray logitsBTV, NDArray targetsBT) {
    return CrossEntropy.mean(logitsBTV, targetsBT);
  }

  /** {@link CrossEntropy#sum}. */
  public static NDArray sumCrossEntropy(NDArray logitsBTV, NDArray targetsBT) {
    return CrossEntropy.sum(logitsBTV, targetsBT);
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
    if (inFlight.size() >= options.maxInFlight()) {
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
