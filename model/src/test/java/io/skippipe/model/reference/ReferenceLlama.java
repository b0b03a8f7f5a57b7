package io.skippipe.model.reference;

import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.LlamaTensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent, plain-Java implementation of the LLaMA decoder (Touvron et al. 2023, "LLaMA:
 * Open and Efficient Foundation Language Models"; Hugging Face {@code LlamaForCausalLM} semantics)
 * in double precision with naive loops. It shares no code with the DJL stages and exists only to
 * check them: same weights in (HF names), logits and mean cross-entropy out.
 *
 * <p>The recipe: {@code x = embed[tokens]}; per layer {@code h = x + attn(rms(x)·w1)},
 * {@code x = h + down(silu(gate(rms(h)·w2)) ⊙ up(rms(h)·w2))}; then {@code rms(x)·wn}, {@code
 * logits = x·lm_headᵀ} ({@code lm_head = embed} when the config ties them), loss = mean over all B·T positions of {@code logsumexp(logits) -
 * logits[target]}. RMSNorm is {@code x / sqrt(mean(x²) + eps) · w}. Attention: {@code q,k,v =
 * x·Wᵀ}, rotary embedding on q and k in HF's rotate-half layout (channel {@code i} pairs with
 * {@code i + hd/2}, frequency {@code theta^(-2i/hd)}, positions 0..T-1), key/value head {@code j}
 * serves query heads {@code j·g .. j·g+g-1} with {@code g = heads/kvHeads}, causal softmax of
 * {@code q·kᵀ/sqrt(hd)}, then {@code o_proj}. A path runs the given layers in the given order
 * (stage 0's layers first, then the listed stages), which is how SkipPipe skips and swaps stages.
 *
 * <p>Shape legend: B sequences, T positions, D = hidden size, V = vocabulary, hd = head size.
 */
public final class ReferenceLlama {
  private final HfConfig c;
  private final Map<String, double[]> w = new HashMap<>();

  /** Copies the weights (HF names, row-major, HF shapes) into doubles; all must be present. */
  public ReferenceLlama(HfConfig config, Map<String, float[]> weights) {
    this.c = config;
    LlamaTensors.model(config).forEach((name, shape) -> {
      float[] f = weights.get(name);
      if (f == null || f.length != LlamaTensors.numel(shape)) {
        throw new IllegalArgumentException("reference model needs tensor \"" + name + "\" of shape "
            + Arrays.toString(shape) + " (" + LlamaTensors.numel(shape) + " values); got "
            + (f == null ? "none" : f.length + " values"));
      }
      double[] d = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        d[i] = f[i];
      }
      w.put(name, d);
    });
  }

  /** Logits {@code [B,T,V]} row-major and the mean cross-entropy over the B·T positions. */
  public record Output(double[] logits, double loss) {}

  /** The decoder-layer order of a stage path ({@code path[0] == 0}). */
  public static List<Integer> layersOfPath(int[] stagePath, int layersPerStage) {
    if (stagePath.length == 0 || stagePath[0] != 0) {
      throw new IllegalArgumentException("a path starts at stage 0; got "
          + Arrays.toString(stagePath));
    }
    List<Integer> layers = new ArrayList<>();
    for (int s : stagePath) {
      for (int l = s * layersPerStage; l < (s + 1) * layersPerStage; l++) {
        layers.add(l);
      }
    }
    return layers;
  }

  /** All layers in order (the full model). */
  public List<Integer> allLayers() {
    List<Integer> l = new ArrayList<>();
    for (int i = 0; i < c.numHiddenLayers(); i++) {
      l.add(i);
    }
    return l;
  }

  /**
   * Runs the model on {@code tokens} ({@code B} sequences of {@code T+1} ids, row-major): inputs
   * are ids 0..T-1 of each sequence, targets ids 1..T.
   */
  public Output forward(int[] tokens, int batch, int seqLen, List<Integer> layers) {
    int d = c.hiddenSize();
    int vocab = c.vocabSize();
    if (tokens.length != batch * (seqLen + 1)) {
      throw new IllegalArgumentException(tokens.length + " ids are not " + batch
          + " sequences of " + (seqLen + 1));
    }
    double[] embed = w.get(LlamaTensors.EMBED);
    double[] logits = new double[batch * seqLen * vocab];
    double lossSum = 0;
    for (int b = 0; b < batch; b++) {
      double[][] x = new double[seqLen][d];
      for (int t = 0; t < seqLen; t++) {
        int id = tokens[b * (seqLen + 1) + t];
        System.arraycopy(embed, id * d, x[t], 0, d);
      }
      for (int l : layers) {
        x = layer(l, x);
      }
      double[] norm = w.get(LlamaTensors.NORM);
      // a tied model's head is the embedding matrix (HF tie_word_embeddings)
      double[] head = w.get(c.tieWordEmbeddings() ? LlamaTensors.EMBED : LlamaTensors.LM_HEAD);
      for (int t = 0; t < seqLen; t++) {
        double[] xn = rmsNorm(x[t], norm);
        double[] z = linear(xn, head, vocab, d);
        System.arraycopy(z, 0, logits, (b * seqLen + t) * vocab, vocab);
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
          max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : z) {
          sum += Math.exp(v - max);
        }
        int target = tokens[b * (seqLen + 1) + t + 1];
        lossSum += max + Math.log(sum) - z[target];
      }
    }
    return new Output(logits, lossSum / (batch * seqLen));
  }

  /** One decoder layer on one sequence {@code x[T][D]}. */
  private double[][] layer(int l, double[][] x) {
    int seqLen = x.length;
    int d = c.hiddenSize();
    int heads = c.numAttentionHeads();
    int kvHeads = c.numKeyValueHeads();
    int hd = c.headDim();
    int group = heads / kvHeads;
    double[] wq = w.get(LlamaTensors.layer(l, "self_attn.q_proj"));
    double[] wk = w.get(LlamaTensors.layer(l, "self_attn.k_proj"));
    double[] wv = w.get(LlamaTensors.layer(l, "self_attn.v_proj"));
    double[] wo = w.get(LlamaTensors.layer(l, "self_attn.o_proj"));
    double[][] q = new double[seqLen][];
    double[][] k = new double[seqLen][];
    double[][] v = new double[seqLen][];
    for (int t = 0; t < seqLen; t++) {
      double[] xn = rmsNorm(x[t], w.get(LlamaTensors.layer(l, "input_layernorm")));
      q[t] = rope(linear(xn, wq, heads * hd, d), heads, t);
      k[t] = rope(linear(xn, wk, kvHeads * hd, d), kvHeads, t);
      v[t] = linear(xn, wv, kvHeads * hd, d);
    }
    double scale = 1.0 / Math.sqrt(hd);
    double[][] out = new double[seqLen][];
    for (int t = 0; t < seqLen; t++) {
      double[] attn = new double[heads * hd];
      for (int h = 0; h < heads; h++) {
        int kvh = h / group;
        double[] p = new double[t + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int s = 0; s <= t; s++) {
          double dot = 0;
          for (int i = 0; i < hd; i++) {
            dot += q[t][h * hd + i] * k[s][kvh * hd + i];
          }
          p[s] = dot * scale;
          max = Math.max(max, p[s]);
        }
        double sum = 0;
        for (int s = 0; s <= t; s++) {
          p[s] = Math.exp(p[s] - max);
          sum += p[s];
        }
        for (int s = 0; s <= t; s++) {
          for (int i = 0; i < hd; i++) {
            attn[h * hd + i] += p[s] / sum * v[s][kvh * hd + i];
          }
        }
      }
      double[] o = linear(attn, wo, d, heads * hd);
      double[] h = new double[d];
      for (int i = 0; i < d; i++) {
        h[i] = x[t][i] + o[i];
      }
      double[] hn = rmsNorm(h, w.get(LlamaTensors.layer(l, "post_attention_layernorm")));
      int f = c.intermediateSize();
      double[] gate = linear(hn, w.get(LlamaTensors.layer(l, "mlp.gate_proj")), f, d);
      double[] up = linear(hn, w.get(LlamaTensors.layer(l, "mlp.up_proj")), f, d);
      double[] act = new double[f];
      for (int i = 0; i < f; i++) {
        act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i]; // silu(gate) * up
      }
      double[] down = linear(act, w.get(LlamaTensors.layer(l, "mlp.down_proj")), d, f);
      out[t] = new double[d];
      for (int i = 0; i < d; i++) {
        out[t][i] = h[i] + down[i];
      }
    }
    return out;
  }

  /** {@code y = x·Wᵀ} with {@code W} of shape {@code [out, in]} row-major. */
  static double[] linear(double[] x, double[] wt, int out, int in) {
    double[] y = new double[out];
    for (int o = 0; o < out; o++) {
      double s = 0;
      for (int i = 0; i < in; i++) {
        s += x[i] * wt[o * in + i];
      }
      y[o] = s;
    }
    return y;
  }

  double[] rmsNorm(double[] x, double[] weight) {
    double ms = 0;
    for (double v : x) {
      ms += v * v;
    }
    double inv = 1.0 / Math.sqrt(ms / x.length + c.rmsNormEps());
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = x[i] * inv * weight[i];
    }
    return y;
  }

  /** HF rotate-half RoPE of {@code nHeads} heads at position {@code pos}. */
  double[] rope(double[] x, int nHeads, int pos) {
    int hd = c.headDim();
    int half = hd / 2;
    double[] y = new double[x.length];
    for (int h = 0; h < nHeads; h++) {
      for (int i = 0; i < half; i++) {
        double invFreq = Math.pow(c.ropeTheta(), -2.0 * i / hd);
        double angle = pos * invFreq;
        double cos = Math.cos(angle);
        double sin = Math.sin(angle);
        double a = x[h * hd + i];
        double b = x[h * hd + i + half];
        y[h * hd + i] = a * cos - b * sin;
        y[h * hd + i + half] = b * cos + a * sin;
      }
    }
    return y;
  }

  /** Value {@code index} of tensor {@code name} (for finite differences). */
  public double weight(String name, int index) {
    return tensor(name)[index];
  }

  /** Sets value {@code index} of tensor {@code name} (for finite differences). */
  public void setWeight(String name, int index, double value) {
    tensor(name)[index] = value;
  }

  /**
   * Central-difference derivative of the mean loss with respect to one weight: {@code (L(w+h) -
   * L(w-h)) / 2h}, computed in double precision (truncation error O(h²)).
   */
  public double finiteDifference(
      String name, int index, double h, int[] tokens, int batch, int seqLen, List<Integer> layers) {
    double w0 = weight(name, index);
    setWeight(name, index, w0 + h);
    double plus = forward(tokens, batch, seqLen, layers).loss();
    setWeight(name, index, w0 - h);
    double minus = forward(tokens, batch, seqLen, layers).loss();
    setWeight(name, index, w0);
    return (plus - minus) / (2 * h);
  }

  private double[] tensor(String name) {
    double[] t = w.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no tensor \"" + name + "\" in the reference model");
    }
    return t;
  }
}
