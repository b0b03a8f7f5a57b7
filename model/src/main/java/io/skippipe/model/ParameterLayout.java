package io.skippipe.model;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The model's parameters by Hugging Face {@code LlamaForCausalLM} name and shape, per stage, and
 * their deterministic initial values.
 *
 * <p>Order (stable; flat gradient buffers and optimizer state follow it): for stage 0 {@code
 * model.embed_tokens.weight} first; then for each layer of the stage, in layer order, {@code
 * input_layernorm, self_attn.q_proj, self_attn.k_proj, self_attn.v_proj, self_attn.o_proj,
 * post_attention_layernorm, mlp.gate_proj, mlp.up_proj, mlp.down_proj}; then for stage 0 {@code
 * model.norm.weight} and {@code lm_head.weight} (absent when the config ties the embeddings: the
 * head then reuses {@code model.embed_tokens.weight}). The whole-model order is stage 0's embedding, all
 * layers 0..N-1, then the norm and head (HF's {@code state_dict} order).
 *
 * <p>Initialisation: each parameter draws from its own {@link SplittableRandom} seeded by a mix of
 * the run seed and a 64-bit FNV-1a hash of its HF name, so a stage built alone equals the same
 * stage inside the unsplit model. Matrices are normal(0, 0.02) (HF {@code initializer_range}), norm
 * weights are 1.0.
 */
public final class ParameterLayout {
  /** Standard deviation of matrix initialisation (HF {@code initializer_range}). */
  public static final double INIT_STD = 0.02;

  private ParameterLayout() {}

  /** One parameter: HF name, shape (row-major) and whether it is an RMSNorm weight. */
  public record Param(String name, long[] shape, boolean isNorm) {
    public Param {
      shape = shape.clone();
    }

    /** Number of elements. */
    public int size() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      if (n > Integer.MAX_VALUE) {
        throw new IllegalStateException(name + " has " + n + " elements; too large for a float[]");
      }
      return (int) n;
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    /** The deterministic initial values for {@code seed} (see class comment). */
    public float[] initialValues(long seed) {
      float[] values = new float[size()];
      if (isNorm) {
        java.util.Arrays.fill(values, 1.0f);
        return values;
      }
      SplittableRandom rng = new SplittableRandom(mix(seed, fnv1a64(name)));
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) (rng.nextGaussian() * INIT_STD);
      }
      return values;
    }
  }

  /** Parameters of one stage, in the stable order described in the class comment. */
  public static List<Param> forStage(LlamaConfig cfg, int stage) {
    cfg.checkStage(stage);
    List<Param> out = new ArrayList<>();
    if (stage == 0) {
      out.add(new Param("model.embed_tokens.weight", new long[] {cfg.vocab(), cfg.dim()}, false));
    }
    for (int l = cfg.firstLayer(stage); l < cfg.firstLayer(stage) + cfg.layersPerStage(); l++) {
      out.addAll(forLayer(cfg, l));
    }
    if (stage == 0) {
      out.addAll(head(cfg));
    }
    return Collections.unmodifiableList(out);
  }

  /** Parameters of the whole model in HF order (embedding, layers 0..N-1, norm, head). */
  public static List<Param> forModel(LlamaConfig cfg) {
    List<Param> out = new ArrayList<>();
    out.add(new Param("model.embed_tokens.weight", new long[] {cfg.vocab(), cfg.dim()}, false));
    for (int l = 0; l < cfg.layers(); l++) {
      out.addAll(forLayer(cfg, l));
    }
    out.addAll(head(cfg));
    return Collections.unmodifiableList(out);
  }

  /** The nine parameters of decoder layer {@code layer} (global index). */
  public static List<Param> forLayer(LlamaConfig cfg, int layer) {
    long d = cfg.dim();
    long q = (long) cfg.heads() * cfg.headDim();
    long kv = (long) cfg.kvHeads() * cfg.headDim();
    long f = cfg.ffnDim();
    String p = "model.layers." + layer + ".";
    return List.of(
        new Param(p + "input_layernorm.weight", new long[] {d}, true),
        new Param(p + "self_attn.q_proj.weight", new long[] {q, d}, false),
        new Param(p + "self_attn.k_proj.weight", new long[] {kv, d}, false),
        new Param(p + "self_attn.v_proj.weight", new long[] {kv, d}, false),
        new Param(p + "self_attn.o_proj.weight", new long[] {d, q}, false),
        new Param(p + "post_attention_layernorm.weight", new long[] {d}, true),
        new Param(p + "mlp.gate_proj.weight", new long[] {f, d}, false),
        new Param(p + "mlp.up_proj.weight", new long[] {f, d}, false),
        new Param(p + "mlp.down_proj.weight", new long[] {d, f}, false));
  }

  /** The final norm and, unless the embeddings are tied, the LM head. */
  private static List<Param> head(LlamaConfig cfg) {
    Param norm = new Param("model.norm.weight", new long[] {cfg.dim()}, true);
    if (cfg.tieWordEmbeddings()) {
      return List.of(norm);
    }
    return List.of(norm, new Param("lm_head.weight", new long[] {cfg.vocab(), cfg.dim()}, false));
  }

  /** 64-bit FNV-1a of the UTF-8 bytes of {@code s}. */
  static long fnv1a64(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= (b & 0xff);
      h *= 0x100000001b3L;
    }
    return h;
  }

  /** SplitMix64 finaliser of {@code seed} combined with {@code salt}. */
  static long mix(long seed, long salt) {
    long z = seed * 0x9e3779b97f4a7c15L + salt;
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
