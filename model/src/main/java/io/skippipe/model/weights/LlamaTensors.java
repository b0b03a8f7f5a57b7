package io.skippipe.model.weights;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Hugging Face {@code LlamaForCausalLM} tensor names and shapes, for the whole model and for
 * one pipeline stage. Stage {@code s} of a model with {@code layersPerStage = L} holds decoder
 * layers {@code [s·L, (s+1)·L)}; stage 0 also holds the embedding, the final norm and the LM head
 * (no {@code lm_head.weight} when the config ties it to the embedding).
 * Shapes follow PyTorch's {@code nn.Linear} ({@code [out, in]}, applied as {@code y = x·Wᵀ}).
 */
public final class LlamaTensors {
  private LlamaTensors() {}

  public static final String EMBED = "model.embed_tokens.weight";
  public static final String NORM = "model.norm.weight";
  public static final String LM_HEAD = "lm_head.weight";

  /** Name of a per-layer tensor, e.g. {@code layer(3, "self_attn.q_proj")}. */
  public static String layer(int layer, String module) {
    return "model.layers." + layer + "." + module + ".weight";
  }

  /** Every tensor of the whole model, in HF order, with its shape. */
  public static Map<String, long[]> model(HfConfig c) {
    Map<String, long[]> m = new LinkedHashMap<>();
    m.put(EMBED, new long[] {c.vocabSize(), c.hiddenSize()});
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      putLayer(m, c, l);
    }
    putHead(m, c);
    return m;
  }

  /** The tensors of one stage (see the class comment), with their shapes. */
  public static Map<String, long[]> stage(HfConfig c, int stage, int layersPerStage) {
    if (layersPerStage <= 0 || c.numHiddenLayers() % layersPerStage != 0) {
      throw new IllegalArgumentException(
          "layersPerStage " + layersPerStage + " does not divide num_hidden_layers "
              + c.numHiddenLayers() + "; every stage must hold the same whole number of layers");
    }
    int stages = c.numHiddenLayers() / layersPerStage;
    if (stage < 0 || stage >= stages) {
      throw new IllegalArgumentException(
          "stage " + stage + " does not exist: the model has " + stages + " stages [0, "
              + stages + ")");
    }
    Map<String, long[]> m = new LinkedHashMap<>();
    if (stage == 0) {
      m.put(EMBED, new long[] {c.vocabSize(), c.hiddenSize()});
    }
    for (int l = stage * layersPerStage; l < (stage + 1) * layersPerStage; l++) {
      putLayer(m, c, l);
    }
    if (stage == 0) {
      putHead(m, c);
    }
    return m;
  }

  /** The final norm and, unless tied to the embedding, the LM head. */
  private static void putHead(Map<String, long[]> m, HfConfig c) {
    m.put(NORM, new long[] {c.hiddenSize()});
    if (!c.tieWordEmbeddings()) {
      m.put(LM_HEAD, new long[] {c.vocabSize(), c.hiddenSize()});
    }
  }

  private static void putLayer(Map<String, long[]> m, HfConfig c, int l) {
    long d = c.hiddenSize();
    long q = (long) c.numAttentionHeads() * c.headDim();
    long kv = (long) c.numKeyValueHeads() * c.headDim();
    long f = c.intermediateSize();
    m.put(layer(l, "input_layernorm"), new long[] {d});
    m.put(layer(l, "self_attn.q_proj"), new long[] {q, d});
    m.put(layer(l, "self_attn.k_proj"), new long[] {kv, d});
    m.put(layer(l, "self_attn.v_proj"), new long[] {kv, d});
    m.put(layer(l, "self_attn.o_proj"), new long[] {d, q});
    m.put(layer(l, "post_attention_layernorm"), new long[] {d});
    m.put(layer(l, "mlp.gate_proj"), new long[] {f, d});
    m.put(layer(l, "mlp.up_proj"), new long[] {f, d});
    m.put(layer(l, "mlp.down_proj"), new long[] {d, f});
  }

  /** Number of elements of a shape. */
  public static long numel(long[] shape) {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    return n;
  }
}
