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
    List<Long> gradientBytesPerStage) {

  /** A model spec whose gradient bytes follow its shape. */
  public ModelSpec(String name, String description, int dim, int layers, int heads, int kvHeads,
      int ffnDim, int vocab, int seqLen, int layersPerStage, int samplesPerMicrobatch,
      int microbatchesPerDataNode, int activationBytesPerElement) {
    this(name, description, dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage,
        samplesPerMicrobatch, microbatchesPerDataNode, activationBytesPerElement, null);
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
        gradientBytesPerStage);
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
}
