package io.skippipe.model.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;

/**
 * Grouped-query causal self-attention (Ainslie et al. 2023) with rotary positions, as in HF {@code
 * LlamaAttention}: no biases, KV head j serves query heads {@code j*g .. (j+1)*g-1} where {@code g
 * = heads/kvHeads}, scores scaled by {@code 1/sqrt(K)}, future positions masked.
 *
 * <p>Shape legend: B batch, T time, D model channels, H query heads, G KV heads, K channels per
 * head. Weights follow {@code y = x · Wᵀ}: {@code qProj [H*K, D]}, {@code kProj, vProj [G*K, D]},
 * {@code oProj [D, H*K]}.
 */
public record Attention(
    NDArray qProj, NDArray kProj, NDArray vProj, NDArray oProj, int heads, int kvHeads) {

  /**
   * Attends over {@code xBTD} (already normalised) with the rotary tables, causal mask and score
   * scale of {@code constants}. The result belongs to {@code xBTD}'s manager.
   */
  public NDArray forward(NDArray xBTD, AttentionConstants constants) {
    Rotary rotary = constants.rotary();
    long batch = xBTD.getShape().get(0);
    long time = xBTD.getShape().get(1);
    long headDim = qProj.getShape().get(0) / heads;
    // project to queries, keys and values, split into heads: [B,T,H*K] -> [B,H,T,K]
    NDArray qBHTK = splitHeads(linearNoBias(xBTD, qProj), batch, time, heads, headDim);
    NDArray kBGTK = splitHeads(linearNoBias(xBTD, kProj), batch, time, kvHeads, headDim);
    NDArray vBGTK = splitHeads(linearNoBias(xBTD, vProj), batch, time, kvHeads, headDim);
    // rotate queries and keys by position
    qBHTK = rotary.apply(qBHTK);
    kBGTK = rotary.apply(kBGTK);
    // share each KV head among its group of query heads
    NDArray kBHTK = repeatKv(kBGTK, batch, time, headDim);
    NDArray vBHTK = repeatKv(vBGTK, batch, time, headDim);
    // scaled dot-product scores with the causal mask
    NDArray scoresBHTT = qBHTK.matMul(kBHTK.transpose(0, 1, 3, 2)).mul(constants.scoreScale());
    NDArray probsBHTT = scoresBHTT.add(constants.causalMaskTT()).softmax(-1);
    // weighted sum of values, heads merged back: [B,H,T,K] -> [B,T,H*K]
    NDArray contextBTHK =
        probsBHTT.matMul(vBHTK).transpose(0, 2, 1, 3).reshape(batch, time, heads * headDim);
    // output projection
    return linearNoBias(contextBTHK, oProj);
  }

  /** {@code y = x · Wᵀ} with no bias; the result belongs to {@code x}'s manager. */
  public static NDArray linearNoBias(NDArray x, NDArray weight) {
    return Linear.linear(x, weight).singletonOrThrow();
  }

  private static NDArray splitHeads(NDArray xBTC, long batch, long time, long heads, long dim) {
    return xBTC.reshape(batch, time, heads, dim).transpose(0, 2, 1, 3);
  }

  private NDArray repeatKv(NDArray xBGTK, long batch, long time, long headDim) {
    int group = heads / kvHeads;
    if (group == 1) {
      return xBGTK;
    }
    // [B,G,T,K] -> [B,G,1,T,K] -> [B,G,g,T,K] -> [B,H,T,K]; head h reads KV head h / g
    return xBGTK
        .expandDims(2)
        .broadcast(new Shape(batch, kvHeads, group, time, headDim))
        .reshape(batch, heads, time, headDim);
  }
}
