package io.skippipe.model.infer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Embedding;
import ai.djl.ndarray.types.SparseFormat;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.layers.Attention;
import io.skippipe.model.layers.FeedForward;
import io.skippipe.model.layers.RmsNorm;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.StageModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Autoregressive text generation with a key/value cache, over stage 0 and the stages not omitted
 * (in their original order) — the early-exit / omitted-stage inference the SkipPipe paper
 * recommends trying first. Each step feeds only the new token: per layer its key and value are
 * appended to the cache and its query attends over all cached positions, so a step costs O(T)
 * instead of a full O(T²) forward.
 *
 * <p>The math is the training forward's ({@code DecoderLayer}: pre-norm attention with rotary
 * positions and grouped-query heads, SwiGLU), on a copy of the stages' weights in this object's own
 * native scope, so the stages stay untouched. The context is the model's {@code seqLen}: when it
 * is full, the newest {@code seqLen/2} tokens are kept and re-encoded from position 0 (the cache is
 * rebuilt), as in training, where no sequence is longer than {@code seqLen}.
 *
 * <p>Sampling: temperature 0 is greedy (argmax, ties to the lower id); otherwise logits are divided
 * by the temperature, cut to the {@code topK} largest (0 = all) and sampled from a {@link
 * SplittableRandom} seeded per call. Generation stops after {@code maxNewTokens} or at {@code
 * stopToken}.
 *
 * <p>Shape legend: T positions fed in this step, P positions already cached, H query heads, G
 * key/value heads, K channels per head, D model width, V vocabulary.
 */
public final class Generator implements AutoCloseable {
  /**
   * How to sample.
   *
   * @param maxNewTokens tokens to generate at most
   * @param temperature 0 = greedy; else the softmax temperature
   * @param topK sample among the k most likely tokens; 0 = all
   * @param seed seeds the sampler
   * @param stopToken stop after generating this id; -1 = never
   */
  public record Settings(int maxNewTokens, double temperature, int topK, long seed,
      int stopToken) {
    public Settings {
      if (maxNewTokens < 0 || !(temperature >= 0) || !Double.isFinite(temperature) || topK < 0) {
        throw new IllegalArgumentException("max new tokens " + maxNewTokens + ", temperature "
            + temperature + ", top-k " + topK + ": need tokens >= 0, a finite temperature >= 0"
            + " (0 = greedy) and top-k >= 0 (0 = all)");
      }
    }
  }

  /**
   * What a call produced.
   *
   * @param tokens the generated ids (the prompt not included)
   * @param prefillSeconds time to encode the prompt
   * @param decodeSeconds time of the token-by-token steps
   */
  public record Output(int[] tokens, double prefillSeconds, double decodeSeconds) {
    /** Generated tokens per second of decoding (prefill excluded); NaN when none. */
    public double tokensPerSecond() {
      return tokens.length == 0 ? Double.NaN : tokens.length / decodeSeconds;
    }
  }

  /** One decoder layer's weights, owned by this generator. */
  private record Layer(NDArray inputNorm, NDArray q, NDArray k, NDArray v, NDArray o,
      NDArray postNorm, FeedForward ffn) {}

  private final LlamaConfig config;
  private final NDManager weights;
  private final NDArray embed;
  private final NDArray finalNorm;
  private final NDArray lmHead;
  private final List<Layer> layers = new ArrayList<>();
  private final NDArray cosTK;
  private final NDArray sinTK;
  private final NDArray scale;

  /**
   * Copies the weights of stage 0 and of the stages not in {@code omitted}.
   *
   * @param stages all stages of the model, stage 0 first
   * @throws IllegalArgumentException when {@code omitted} holds stage 0 or a stage out of range
   */
  public Generator(List<StageModel> stages, Set<Integer> omitted) {
    Perplexity.checkOmitted(stages, omitted);
    this.config = stages.get(0).config();
    this.weights = NDManager.newBaseManager(stages.get(0).device(), "PyTorch");
    try {
      Map<String, float[]> first = stages.get(0).exportWeights();
      Map<String, long[]> firstShapes = stages.get(0).parameterShapes();
      this.embed = copy(first, firstShapes, "model.embed_tokens.weight");
      this.finalNorm = copy(first, firstShapes, "model.norm.weight");
      this.lmHead = copy(first, firstShapes, "lm_head.weight");
      for (StageModel s : stages) {
        if (omitted.contains(s.stage())) {
          continue;
        }
        Map<String, float[]> w = s == stages.get(0) ? first : s.exportWeights();
        Map<String, long[]> shapes = s.parameterShapes();
        for (int l = config.firstLayer(s.stage());
            l < config.firstLayer(s.stage()) + config.layersPerStage(); l++) {
          String p = "model.layers." + l + ".";
          layers.add(new Layer(copy(w, shapes, p + "input_layernorm.weight"),
              copy(w, shapes, p + "self_attn.q_proj.weight"),
              copy(w, shapes, p + "self_attn.k_proj.weight"),
              copy(w, shapes, p + "self_attn.v_proj.weight"),
              copy(w, shapes, p + "self_attn.o_proj.weight"),
              copy(w, shapes, p + "post_attention_layernorm.weight"),
              new FeedForward(copy(w, shapes, p + "mlp.gate_proj.weight"),
                  copy(w, shapes, p + "mlp.up_proj.weight"),
                  copy(w, shapes, p + "mlp.down_proj.weight"))));
        }
      }
      float[][] rope = ropeTables(config.seqLen(), config.headDim(), config.ropeTheta());
      Shape tk = new Shape(config.seqLen(), config.headDim());
      this.cosTK = AutogradAdapter.owned(weights, rope[0], tk);
      this.sinTK = AutogradAdapter.owned(weights, rope[1], tk);
      this.scale = AutogradAdapter.ownedScalar(weights,
          (float) (1.0 / Math.sqrt(config.headDim())));
    } catch (RuntimeException e) {
      weights.close();
      throw e;
    }
  }

  /** The model's config. */
  public LlamaConfig config() {
    return config;
  }

  /**
   * Generates after {@code prompt} (at least one id, each in the vocabulary).
   *
   * @throws IllegalArgumentException for an empty prompt or an id outside the vocabulary
   */
  public Output generate(int[] prompt, Settings settings) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt must hold at least one token (e.g. the"
          + " tokenizer's end-of-text id as BOS)");
    }
    for (int id : prompt) {
      if (id < 0 || id >= config.vocab()) {
        throw new IllegalArgumentException("prompt token " + id + " is outside the vocabulary"
            + " [0, " + config.vocab() + "); tokenize with the model's tokenizer");
      }
    }
    SplittableRandom rng = new SplittableRandom(settings.seed());
    List<Integer> context = new ArrayList<>();
    int window = config.seqLen();
    int[] start = prompt.length > window
        ? Arrays.copyOfRange(prompt, prompt.length - window / 2, prompt.length) : prompt;
    Arrays.stream(start).forEach(context::add);
    int[] out = new int[settings.maxNewTokens()];
    int n = 0;
    long t0 = System.nanoTime();
    long t1 = t0;
    try (Cache cache = new Cache()) {
      float[] logits = cache.feed(toInts(context), 0);
      t1 = System.nanoTime();
      while (n < settings.maxNewTokens()) {
        int next = sample(logits, settings, rng);
        out[n++] = next;
        context.add(next);
        if (next == settings.stopToken() || n == settings.maxNewTokens()) {
          break;
        }
        if (context.size() > window) { // keep the newest half and re-encode it from position 0
          List<Integer> kept = new ArrayList<>(context.subList(context.size() - window / 2,
              context.size()));
          context = kept;
          cache.reset();
          logits = cache.feed(toInts(context), 0);
        } else {
          logits = cache.feed(new int[] {next}, context.size() - 1);
        }
      }
    }
    long t2 = System.nanoTime();
    return new Output(Arrays.copyOf(out, n), (t1 - t0) / 1e9, (t2 - t1) / 1e9);
  }

  /** The next-token logits {@code [V]} after {@code tokens} (at most seqLen), fed at once. */
  public float[] nextLogits(int[] tokens) {
    try (Cache cache = new Cache()) {
      return cache.feed(tokens, 0);
    }
  }

  @Override
  public void close() {
    weights.close();
  }

  /** The keys and values of every layer for the positions fed so far, in its own scope. */
  private final class Cache implements AutoCloseable {
    private NDManager scope = weights.newSubManager();
    private final NDArray[] keysGPK = new NDArray[layers.size()];
    private final NDArray[] valuesGPK = new NDArray[layers.size()];

    /** Feeds {@code ids} at positions {@code pos..}; returns the last position's logits. */
    float[] feed(int[] ids, int pos) {
      return AutogradAdapter.withoutGrad(() -> {
        try (NDManager step = weights.newSubManager()) {
          int t = ids.length;
          long[] ids64 = Arrays.stream(ids).asLongStream().toArray();
          NDArray idsT = AutogradAdapter.owned(step, ids64, new Shape(t));
          NDArray xTD = Embedding.embedding(idsT, embed, SparseFormat.DENSE).singletonOrThrow();
          NDArray cosTk = cosTK.get(new NDIndex(pos + ":" + (pos + t)));
          NDArray sinTk = sinTK.get(new NDIndex(pos + ":" + (pos + t)));
          NDArray maskTP = causalMask(step, t, pos);
          for (int l = 0; l < layers.size(); l++) {
            Layer layer = layers.get(l);
            // attention norm -> attention over cache + new positions -> residual
            NDArray hTD = RmsNorm.forward(xTD, layer.inputNorm(), config.normEps());
            xTD = xTD.add(attend(l, layer, hTD, cosTk, sinTk, maskTP));
            // feed-forward norm -> SwiGLU -> residual
            NDArray fTD = RmsNorm.forward(xTD, layer.postNorm(), config.normEps());
            xTD = xTD.add(layer.ffn().forward(fTD));
          }
          // final norm and LM head on the last position only
          NDArray lastD = xTD.get(new NDIndex((t - 1) + ":" + t));
          NDArray logits1V = Attention.linearNoBias(
              RmsNorm.forward(lastD, finalNorm, config.normEps()), lmHead);
          return logits1V.toFloatArray();
        }
      });
    }

    private NDArray attend(int l, Layer layer, NDArray hTD, NDArray cosTk, NDArray sinTk,
        NDArray maskTP) {
      long t = hTD.getShape().get(0);
      int heads = config.heads();
      int kvHeads = config.kvHeads();
      int k = config.headDim();
      // project and split heads: [T, H*K] -> [H, T, K]
      NDArray qHTK = rotate(Attention.linearNoBias(hTD, layer.q()).reshape(t, heads, k)
          .transpose(1, 0, 2), cosTk, sinTk);
      NDArray kGTK = rotate(Attention.linearNoBias(hTD, layer.k()).reshape(t, kvHeads, k)
          .transpose(1, 0, 2), cosTk, sinTk);
      NDArray vGTK = Attention.linearNoBias(hTD, layer.v()).reshape(t, kvHeads, k)
          .transpose(1, 0, 2);
      // append to the cache: [G, P+T, K]
      NDArray keys = keysGPK[l] == null ? kGTK : keysGPK[l].concat(kGTK, 1);
      NDArray values = valuesGPK[l] == null ? vGTK : valuesGPK[l].concat(vGTK, 1);
      keep(l, keys, values);
      long p = keys.getShape().get(1);
      // each KV head serves heads/kvHeads query heads: [G, P, K] -> [H, P, K]
      int group = heads / kvHeads;
      NDArray keysHPK = repeat(keys, group, p, k);
      NDArray valuesHPK = repeat(values, group, p, k);
      NDArray probsHTP = qHTK.matMul(keysHPK.transpose(0, 2, 1)).mul(scale).add(maskTP)
          .softmax(-1);
      NDArray contextTD = probsHTP.matMul(valuesHPK).transpose(1, 0, 2).reshape(t, heads * k);
      return Attention.linearNoBias(contextTD, layer.o());
    }

    private NDArray repeat(NDArray xGPK, int group, long p, int k) {
      if (group == 1) {
        return xGPK;
      }
      return xGPK.expandDims(1).broadcast(new Shape(config.kvHeads(), group, p, k))
          .reshape(config.heads(), p, k);
    }

    /** Moves the new cache arrays into the cache scope and frees the old ones. */
    private void keep(int l, NDArray keys, NDArray values) {
      NDArray oldK = keysGPK[l];
      NDArray oldV = valuesGPK[l];
      keys.attach(scope);
      values.attach(scope);
      keysGPK[l] = keys;
      valuesGPK[l] = values;
      if (oldK != null && oldK != keys) {
        oldK.close();
      }
      if (oldV != null && oldV != values) {
        oldV.close();
      }
    }

    /** Forgets every cached position. */
    void reset() {
      scope.close();
      scope = weights.newSubManager();
      Arrays.fill(keysGPK, null);
      Arrays.fill(valuesGPK, null);
    }

    @Override
    public void close() {
      scope.close();
    }
  }

  /** Rotary embedding in HF's rotate_half layout for the rows' positions: x·cos + rot(x)·sin. */
  private static NDArray rotate(NDArray xHTK, NDArray cosTk, NDArray sinTk) {
    long half = xHTK.getShape().get(2) / 2;
    NDArray x1 = xHTK.get(new NDIndex("..., :" + half));
    NDArray x2 = xHTK.get(new NDIndex("..., " + half + ":"));
    return xHTK.mul(cosTk).add(x2.neg().concat(x1, -1).mul(sinTk));
  }

  /** {@code [T, P+T]}: 0 where key position ≤ query position ({@code pos + row}), else -inf. */
  private static NDArray causalMask(NDManager m, int t, int pos) {
    float[] mask = new float[t * (pos + t)];
    for (int q = 0; q < t; q++) {
      for (int key = pos + q + 1; key < pos + t; key++) {
        mask[q * (pos + t) + key] = Float.NEGATIVE_INFINITY;
      }
    }
    return AutogradAdapter.owned(m, mask, new Shape(t, pos + t));
  }

  /**
   * cos and sin tables {@code [T, K]} (Su et al. 2021, HF layout: the K/2 frequencies {@code
   * theta^(-2i/K)} repeated twice), computed in double precision like the training {@code Rotary}.
   */
  private static float[][] ropeTables(int seqLen, int headDim, double theta) {
    float[] cos = new float[seqLen * headDim];
    float[] sin = new float[seqLen * headDim];
    int half = headDim / 2;
    for (int t = 0; t < seqLen; t++) {
      for (int i = 0; i < half; i++) {
        double angle = t * Math.pow(theta, -2.0 * i / headDim);
        cos[t * headDim + i] = cos[t * headDim + i + half] = (float) Math.cos(angle);
        sin[t * headDim + i] = sin[t * headDim + i + half] = (float) Math.sin(angle);
      }
    }
    return new float[][] {cos, sin};
  }

  private static int sample(float[] logits, Settings s, SplittableRandom rng) {
    if (s.temperature() == 0) {
      int best = 0;
      for (int i = 1; i < logits.length; i++) {
        if (logits[i] > logits[best]) {
          best = i;
        }
      }
      return best;
    }
    Integer[] order = new Integer[logits.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a])
        : Integer.compare(a, b));
    int keep = s.topK() == 0 ? logits.length : Math.min(s.topK(), logits.length);
    double max = logits[order[0]];
    double[] weights = new double[keep];
    double total = 0;
    for (int i = 0; i < keep; i++) {
      weights[i] = Math.exp((logits[order[i]] - max) / s.temperature());
      total += weights[i];
    }
    double u = rng.nextDouble() * total;
    for (int i = 0; i < keep; i++) {
      u -= weights[i];
      if (u < 0) {
        return order[i];
      }
    }
    return order[keep - 1];
  }

  private NDArray copy(Map<String, float[]> w, Map<String, long[]> shapes, String name) {
    float[] data = w.get(name);
    if (data == null) {
      throw new IllegalStateException("stage weights lack " + name);
    }
    return AutogradAdapter.owned(weights, data, new Shape(shapes.get(name)));
  }

  private static int[] toInts(List<Integer> l) {
    return l.stream().mapToInt(Integer::intValue).toArray();
  }
}
