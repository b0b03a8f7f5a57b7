package io.skippipe.scheduler.profile;

import io.skippipe.scheduler.plan.PlanningException;

/**
 * The shape of the model being trained, as far as planning needs it (DESIGN.md §5.1): how many
 * stages it splits into, how much work a microbatch is and how many bytes an activation is.
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
    int activationBytesPerElement) {

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
        layersPerStage, samplesPerMicrobatch, microbatchesPerDataNode, bytes);
  }

  /** Bytes of one microbatch's activation (and of its gradient) crossing one hop. */
  public long activationBytesPerMicrobatch() {
    return (long) activationBytesPerElement * dim * seqLen * samplesPerMicrobatch;
  }
}
