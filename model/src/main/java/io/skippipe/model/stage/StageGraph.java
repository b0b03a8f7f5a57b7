package io.skippipe.model.stage;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.layers.Attention;
import io.skippipe.model.layers.AttentionConstants;
import io.skippipe.model.layers.DecoderLayer;
import io.skippipe.model.layers.RmsNorm;
import io.skippipe.model.layers.Rotary;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The math of one stage as a recipe over its compute weights: token embedding (stage 0), the
 * stage's decoder layers, and final norm → LM head (stage 0; the embedding matrix when tied).
 * Results belong to the input's manager; grad mode is the caller's.
 *
 * <p>In {@link Precision#BF16} the compute weights hold bfloat16 values and every layer's output
 * is rounded to bfloat16; the logits and the loss stay float32 (see {@link Precision}).
 *
 * <p>Shape legend: B batch, T time, D model channels, V vocabulary.
 */
final class StageGraph {
  private final LlamaConfig config;
  private final int stage;
  private final Precision precision;
  private final NDManager manager;
  private final Set<NDArray> resident;
  private final List<DecoderLayer> layers = new ArrayList<>();
  private final NDArray embedTokens;
  private final NDArray finalNorm;
  private final NDArray lmHead;
  private final Map<Integer, AttentionConstants> constantsByLength = new HashMap<>();
  /** Veltkamp's splitter σ = 2^16 + 1 as a stage-owned scalar (bf16 rounding in the graph). */
  private final NDArray splitter;

  StageGraph(
      LlamaConfig config,
      int stage,
      Precision precision,
      Map<String, NDArray> weights,
      NDManager manager,
      Set<NDArray> resident) {
    this.config = config;
    this.stage = stage;
    this.precision = precision;
    this.manager = manager;
    this.resident = resident;
    int first = config.firstLayer(stage);
    for (int l = first; l < first + config.layersPerStage(); l++) {
      layers.add(DecoderLayer.bind(l, weights, config.heads(), config.kvHeads(), config.normEps()));
    }
    this.embedTokens = weights.get("model.embed_tokens.weight");
    this.finalNorm = weights.get("model.norm.weight");
    this.lmHead = config.tieWordEmbeddings() ? embedTokens : weights.get("lm_head.weight");
    this.splitter = AutogradAdapter.ownedScalar(manager, Precision.VELTKAMP_SPLITTER);
    resident.add(splitter);
  }

  /** Token embedding: {@code idsBT} (int64) → {@code [B,T,D]} (rows of the compute table). */
  NDArray embed(NDArray idsBT) {
    requireStageZero("embed");
    return Embedding.embedding(idsBT, embedTokens, SparseFormat.DENSE).singletonOrThrow();
  }

  /**
   * This stage's layers in order: {@code [B,T,D] → [B,T,D]}; in {@link Precision#BF16} each layer's
   * output is rounded to bfloat16 (a straight-through rounding in the graph).
   */
  NDArray applyLayers(NDArray hiddenBTD) {
    AttentionConstants constants = attentionConstants((int) hiddenBTD.getShape().get(1));
    NDArray h = hiddenBTD;
    for (DecoderLayer layer : layers) {
      h = roundToPrecision(layer.forward(h, constants));
    }
    return h;
  }

  /**
   * Veltkamp's split {@code hi = σx − (σx − x)} (see {@code StageParameters}): the bfloat16 value
   * nearest {@code x}, with a splitter array the stage owns (never {@code mul(Number)} on the grad
   * path). Its backward applies the same split to the gradient: activation gradients are bfloat16
   * too, as in real bf16 training.
   */
  private NDArray roundToPrecision(NDArray x) {
    if (precision == Precision.FP32) {
      return x;
    }
    NDArray c = x.mul(splitter);
    return c.sub(c.sub(x));
  }

  /** Final norm then LM head: {@code [B,T,D]} → float32 logits {@code [B,T,V]}. */
  NDArray logits(NDArray hiddenBTD) {
    requireStageZero("logits");
    NDArray normedBTD = RmsNorm.forward(hiddenBTD, finalNorm, config.normEps());
    return Attention.linearNoBias(normedBTD, lmHead);
  }

  /** A host buffer as a libtorch-owned array on the stage's device, in {@code m}. */
  NDArray hiddenIn(NDManager m, float[] host, Shape shape) {
    return AutogradAdapter.owned(m, host, shape);
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
          resident.addAll(List.of(rotary.constants()));
          resident.add(maskTT);
          resident.add(scale);
          return new AttentionConstants(rotary, maskTT, scale);
        });
  }

  private void requireStageZero(String what) {
    if (stage != 0) {
      throw new IllegalStateException(
          what + " belongs to stage 0 (embedding, final norm, LM head); this is stage " + stage);
    }
  }
}
