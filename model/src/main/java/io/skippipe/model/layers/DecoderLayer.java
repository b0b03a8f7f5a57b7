package io.skippipe.model.layers;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * One pre-norm LLaMA decoder layer (HF {@code LlamaDecoderLayer}): {@code h = x + attn(rmsnorm(x));
 * out = h + mlp(rmsnorm(h))}.
 *
 * <p>Shape legend: B batch, T time, D model channels.
 */
public record DecoderLayer(
    int index,
    NDArray inputNorm,
    Attention attention,
    NDArray postAttentionNorm,
    FeedForward feedForward,
    double normEps) {

  /**
   * Binds layer {@code index}'s parameters by their HF names ({@code model.layers.N.*}) from {@code
   * params}.
   */
  public static DecoderLayer bind(
      int index, Map<String, NDArray> params, int heads, int kvHeads, double normEps) {
    String p = "model.layers." + index + ".";
    Attention attention =
        new Attention(
            get(params, p + "self_attn.q_proj.weight"),
            get(params, p + "self_attn.k_proj.weight"),
            get(params, p + "self_attn.v_proj.weight"),
            get(params, p + "self_attn.o_proj.weight"),
            heads,
            kvHeads);
    FeedForward ffn =
        new FeedForward(
            get(params, p + "mlp.gate_proj.weight"),
            get(params, p + "mlp.up_proj.weight"),
            get(params, p + "mlp.down_proj.weight"));
    return new DecoderLayer(
        index,
        get(params, p + "input_layernorm.weight"),
        attention,
        get(params, p + "post_attention_layernorm.weight"),
        ffn,
        normEps);
  }

  /** Runs the layer on {@code xBTD}; the result belongs to {@code xBTD}'s manager. */
  public NDArray forward(NDArray xBTD, AttentionConstants constants) {
    // attention norm -> attention -> residual
    NDArray attnInBTD = RmsNorm.forward(xBTD, inputNorm, normEps);
    NDArray hBTD = xBTD.add(attention.forward(attnInBTD, constants));
    // feed-forward norm -> SwiGLU -> residual
    NDArray ffnInBTD = RmsNorm.forward(hBTD, postAttentionNorm, normEps);
    return hBTD.add(feedForward.forward(ffnInBTD));
  }

  private static NDArray get(Map<String, NDArray> params, String name) {
    NDArray a = params.get(name);
    if (a == null) {
      throw new IllegalStateException("parameter " + name + " missing from the stage");
    }
    return a;
  }
}
