package io.skippipe.scheduler.profile;

import io.skippipe.scheduler.plan.PlanningException;
import java.util.List;

/**
 * The shape of the model being trained, as far as planning needs it (DESIGN.md §5.1): how many
 * stages it splits into, how much work a microbatch is and how many bytes an activation is.
 *
 * <p>{@code gradientBytesPerStage} (optional, JSON {@code "gradientBytesPerStage"}) overrides the
 * bytes each stage's gradient all-reduce moves per replica, which otherwise follow the shape
 * ({@link #gradientBytesOfStage}); it exists for emulation, where a small model stands in for a
 * large one on proportionally scaled links ({@code bench e2e --cost-model}).
 *
 * <p>{@code activationCheckpointing} (optional, JSON {@code "activationCheckpointing": true},
 * written only when on so plans without it keep their bytes) is the runtime's
 * {@code spark.skippipe.train.activationCheckpointing}: a stage keeps only each microbatch's stage
 * input between forward and backward and recomputes the forward in the backward
 * ({@code io.skippipe.model.stage.StageModel}). The cost model then lengthens every backward by
 * one forward ({@code cost.CostModel}) and a node holds more microbatches
 * ({@link #microbatchesHeld}).
 */
public record ModelSpec(
    String name,
    String description,
    int dim,
    int layers,
    int heads,
    int kvHeads,
    int ffnDim,
    int vocab,
    int seqLen,
    int layersPerStage,
    int samplesPerMicrobatch,
    int microbatchesPerDataNode,
    int activationBytesPerElement,
    List<Long> gradientBytesPerStage,
    boolean activationCheckpointing) {

  /** A model spec whose gradient bytes follow its shape, without activation checkpointing. */
  public ModelSpec(String name, String description, int dim, int layers, int heads, int kvHeads,
      int ffnDim, int vocab, int seqLen, int layersPerStage, int samplesPerMicrobatch,
      int microbatchesPerDataNode, int activationBytesPerElement) {
    this(name, description, dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage,
        samplesPerMicrobatch, microbatchesPerDataNode, activationBytesPerElement, null, false);
  }

  /** A model spec without activation checkpointing. */
  public ModelSpec(String name, String description, int dim, int layers, int heads, int kvHeads,
      int ffnDim, int vocab, int seqLen, int layersPerStage, int samplesPerMicrobatch,
      int microbatchesPerDataNode, int activationBytesPerElement,
      List<Long> gradientBytesPerStage) {
    this(name, description, dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage,
        samplesPerMicrobatch, microbatchesPerDataNode, activationBytesPerElement,
        gradientBytesPerStage, false);
  }

  public ModelSpec {
    positive(name, "dim", dim);
    positive(name, "layers", layers);
    positive(name, "heads", heads);
    positive(name, "kvHeads", kvHeads);
    positive(name, "ffnDim", ffnDim);
    positive(name, "vocab", vocab);
    positive(name, "seqLen", seqLen);
    positive(name, "layersPerStage", layersPerStage);
    positive(name, "samplesPerMicrobatch", samplesPerMicrobatch);
    positive(name, "microbatchesPerDataNode", microbatchesPerDataNode);
    positive(name, "activationBytesPerElement", activationBytesPerElement);
    if (layers % layersPerStage != 0) {
      throw PlanningException.of(
          "model " + name + " layers " + layers + " with layersPerStage " + layersPerStage,
          "layers must be a multiple of layersPerStage (every stage holds the same layers)",
          "choose layersPerStage dividing " + layers);
    }
    if (description == null) {
      description = "";
    }
    if (gradientBytesPerStage != null) {
      gradientBytesPerStage = List.copyOf(gradientBytesPerStage);
      if (gradientBytesPerStage.size() != layers / layersPerStage
          || gradientBytesPerStage.stream().anyMatch(b -> b < 0)) {
        throw PlanningException.of("model " + name + " gradientBytesPerStage "
                + gradientBytesPerStage, "must list one non-negative byte count per stage ("
                + layers / layersPerStage + ")", "give one number per stage or leave it out");
      }
    }
  }

  private static void positive(String model, String field, int v) {
    if (v < 1) {
      throw PlanningException.of("model " + model + " " + field + " " + v,
          field + " must be a positive integer", "set " + field + " to 1 or more");
    }
  }

  /** Number of pipeline stages: layers / layersPerStage. */
  public int stages() {
    return layers / layersPerStage;
  }

  /** The same model with activations of {@code bytes} per element (e.g. 2 for bf16). */
  public ModelSpec withActivationBytesPerElement(int bytes) {
    return new ModelSpec(name, description, dim, layers, heads, kvHeads, ffnDim, vocab, seqLen,
        layersPerStage, samplesPerMicrobatch, microbatchesPerDataNode, bytes,
        gradientBytesPerStage, activationCheckpointing);
  }

  /** The same model with activation checkpointing on or off (class comment). */
  public ModelSpec withActivationCheckpointing(boolean on) {
    return new ModelSpec(name, description, dim, layers, heads, kvHeads, ffnDim, vocab, seqLen,
        layersPerStage, samplesPerMicrobatch, microbatchesPerDataNode, activationBytesPerElement,
        gradientBytesPerStage, on);
  }

  /**
   * Parameters of one decoder layer: two RMSNorm weights ({@code 2·dim}), q and o projections
   * ({@code 2·dim·heads·headDim}), k and v projections ({@code 2·dim·kvHeads·headDim}) and the
   * SwiGLU MLP ({@code 3·dim·ffnDim}); {@code headDim = dim/heads} (the HF LlamaForCausalLM
   * layout, {@code model.ParameterLayout} in the model module).
   */
  public long parametersPerLayer() {
    long d = dim;
    long headDim = d / heads;
    return 2 * d + 2 * d * heads * headDim + 2 * d * kvHeads * headDim + 3 * d * ffnDim;
  }

  /**
   * Parameters held by pipeline stage {@code stage}: its {@code layersPerStage} decoder layers;
   * stage 0 also holds the token embedding ({@code vocab·dim}), the final norm ({@code dim}) and
   * the untied LM head ({@code vocab·dim}).
   *
   * @throws IllegalArgumentException when the stage is outside {@code 0..stages()-1}
   */
  public long parametersOfStage(int stage) {
    if (stage < 0 || stage >= stages()) {
      throw new IllegalArgumentException("stage " + stage + " outside 0.." + (stages() - 1));
    }
    long p = layersPerStage * parametersPerLayer();
    return stage == 0 ? p + 2L * vocab * dim + dim : p;
  }

  /**
   * Bytes one replica of {@code stage} contributes to its stage's gradient all-reduce: every
   * parameter's gradient in fp32 (4 bytes; the runtime reduces float32 gradients whatever the
   * activation precision), unless {@code gradientBytesPerStage} says otherwise.
   */
  public long gradientBytesOfStage(int stage) {
    return gradientBytesPerStage != null ? gradientBytesPerStage.get(stage)
        : 4L * parametersOfStage(stage);
  }

  /** Bytes of one microbatch's activation (and of its gradient) crossing one hop. */
  public long activationBytesPerMicrobatch() {
    return (long) activationBytesPerElement * dim * seqLen * samplesPerMicrobatch;
  }

  /**
   * Bytes one microbatch keeps on one node of a non-data stage between its forward and its
   * backward, {@code × activationBytesPerElement}:
   *
   * <ul>
   *   <li>without activation checkpointing, what autograd saves for the backward of the stage's
   *       {@code layersPerStage} decoder layers, per sequence and layer {@code T·(8·D + 5·F) +
   *       H·T²} elements: the two RMSNorms keep their input and normalised output ({@code 4·T·D});
   *       attention keeps the rotated queries, the (head-repeated) keys and values and the merged
   *       context ({@code 4·T·D}: repeated keys/values have H·(D/H) = D channels) and the softmax
   *       output ({@code H·T²}); the SwiGLU MLP keeps gate, sigmoid, SiLU, up and their product
   *       ({@code 5·T·F}). Counted from the operations of {@code model.layers.DecoderLayer}
   *       ({@code RmsNorm}, {@code Attention}, {@code Rotary}, {@code FeedForward}) with PyTorch's
   *       saved-tensor rules (a product saves an operand only when the other needs a gradient;
   *       reshapes, transposes and constant masks save nothing); the same accounting as
   *       Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
   *       Models", §4.1, for a LLaMA layer without dropout. Weights, gradients and the transient
   *       buffers of one operation are not counted.</li>
   *   <li>with activation checkpointing, only the stage input {@code B·T·D} (stage 0 keeps its
   *       B·T token ids, fewer bytes; the hidden size is the bound used):
   *       {@link #activationBytesPerMicrobatch()}.</li>
   * </ul>
   *
   * <p>Legend: B samplesPerMicrobatch, T seqLen, D dim, F ffnDim, H heads.
   */
  public long activationBytesHeldPerMicrobatch() {
    if (activationCheckpointing) {
      return activationBytesPerMicrobatch();
    }
    long t = seqLen;
    long perLayer = t * (8L * dim + 5L * ffnDim) + (long) heads * t * t;
    return (long) activationBytesPerElement * samplesPerMicrobatch * layersPerStage * perLayer;
  }

  /** The most microbatches {@link #microbatchesHeld} reports (far above any iteration's). */
  public static final int MAX_HELD = 1_000_000;

  /**
   * Microbatches a node whose profile says it holds {@code memoryMicrobatches} (forward done,
   * backward not, without checkpointing) can hold under this model's setting. Without activation
   * checkpointing, {@code memoryMicrobatches} itself. With it, the node's activation memory
   * {@code m·full} (full = {@link #activationBytesHeldPerMicrobatch()} without checkpointing) must
   * hold n kept stage inputs ({@code in} bytes each) plus one microbatch's full activations while
   * its backward recomputes them: {@code n = max(m, ⌊(m − 1)·full / in⌋)}, at most
   * {@link #MAX_HELD} (never fewer than without checkpointing: a node that holds one full
   * microbatch also holds one input and its recomputation, give or take one stage input).
   *
   * @throws IllegalArgumentException when {@code memoryMicrobatches < 1}
   */
  public int microbatchesHeld(int memoryMicrobatches) {
    if (memoryMicrobatches < 1) {
      throw new IllegalArgumentException("memoryMicrobatches " + memoryMicrobatches + " < 1");
    }
    if (!activationCheckpointing) {
      return memoryMicrobatches;
    }
    long full = withActivationCheckpointing(false).activationBytesHeldPerMicrobatch();
    long in = activationBytesHeldPerMicrobatch();
    double n = (memoryMicrobatches - 1.0) * full / in;
    return (int) Math.max(memoryMicrobatches, Math.min(MAX_HELD, Math.floor(n)));
  }
}
