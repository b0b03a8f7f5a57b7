package io.skippipe.model;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The shape of a LLaMA-style decoder and how it is cut into pipeline stages.
 *
 * <p>Fields follow Hugging Face {@code LlamaConfig}: {@code dim} (hidden_size), {@code layers}
 * (num_hidden_layers), {@code heads} (num_attention_heads), {@code kvHeads} (num_key_value_heads),
 * {@code ffnDim} (intermediate_size), {@code vocab} (vocab_size), {@code seqLen} (the training
 * sequence length T), {@code normEps} (rms_norm_eps) and {@code ropeTheta} (rope_theta). {@code
 * layersPerStage} is SkipPipe's stage size: stage s holds layers [s*L, (s+1)*L); stage 0 also holds
 * the token embedding, the final norm and the LM head.
 *
 * <p>{@code tieWordEmbeddings} (HF {@code tie_word_embeddings}): the LM head reuses the token
 * embedding matrix instead of a separate {@code lm_head.weight}; both live on stage 0, so tying
 * needs no communication.
 *
 * <p>Presets live in {@code conf/models/NAME.json} ({@code llama-tiny}, {@code llama-500m}, {@code
 * llama-1.5b}, {@code llama-8b}); extra keys in those files (scheduler-only fields such as {@code
 * samplesPerMicrobatch}) are ignored here.
 */
public record LlamaConfig(
    int dim,
    int layers,
    int heads,
    int kvHeads,
    int ffnDim,
    int vocab,
    int seqLen,
    int layersPerStage,
    double normEps,
    double ropeTheta,
    boolean tieWordEmbeddings) {

  /** HF's default {@code rms_norm_eps} for LLaMA-2-style models. */
  public static final double DEFAULT_NORM_EPS = 1e-5;

  /** HF's default {@code rope_theta}. */
  public static final double DEFAULT_ROPE_THETA = 10000.0;

  /** The preset names shipped in {@code conf/models}. */
  public static final List<String> PRESETS =
      List.of("llama-tiny", "llama-500m", "llama-1.5b", "llama-8b");

  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** Checks every field; the message names the value, the rule and the fix. */
  public LlamaConfig {
    positive("dim", dim);
    positive("layers", layers);
    positive("heads", heads);
    positive("kvHeads", kvHeads);
    positive("ffnDim", ffnDim);
    positive("vocab", vocab);
    positive("seqLen", seqLen);
    positive("layersPerStage", layersPerStage);
    if (dim % heads != 0) {
      throw new IllegalArgumentException(
          "model dim "
              + dim
              + " is not divisible by heads "
              + heads
              + ": each head gets dim/heads channels; choose heads that divide dim.");
    }
    if ((dim / heads) % 2 != 0) {
      throw new IllegalArgumentException(
          "head dimension dim/heads = "
              + (dim / heads)
              + " is odd: rotary embeddings rotate "
              + "pairs of channels; choose dim and heads so that dim/heads is even.");
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "heads "
              + heads
              + " is not divisible by kvHeads "
              + kvHeads
              + ": grouped-query attention shares each KV head among heads/kvHeads query heads;"
              + " choose kvHeads that divides heads.");
    }
    if (layers % layersPerStage != 0) {
      throw new IllegalArgumentException(
          "layers "
              + layers
              + " is not divisible by layersPerStage "
              + layersPerStage
              + ": every pipeline stage holds the same number of layers; choose layersPerStage"
              + " that divides layers.");
    }
    if (!(normEps > 0) || !Double.isFinite(normEps)) {
      throw new IllegalArgumentException(
          "normEps " + normEps + " must be a positive finite number (RMSNorm epsilon, e.g. 1e-5).");
    }
    if (!(ropeTheta > 1) || !Double.isFinite(ropeTheta)) {
      throw new IllegalArgumentException(
          "ropeTheta " + ropeTheta + " must be a finite number > 1 (rotary base, e.g. 10000).");
    }
  }

  /** A config with a separate LM head ({@code tieWordEmbeddings = false}). */
  public LlamaConfig(
      int dim,
      int layers,
      int heads,
      int kvHeads,
      int ffnDim,
      int vocab,
      int seqLen,
      int layersPerStage,
      double normEps,
      double ropeTheta) {
    this(dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage, normEps, ropeTheta,
        false);
  }

  /** The same model cut into stages of {@code layersPerStage} layers. */
  public LlamaConfig withLayersPerStage(int layersPerStage) {
    return new LlamaConfig(dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage,
        normEps, ropeTheta, tieWordEmbeddings);
  }

  /** The same model trained on sequences of {@code seqLen} tokens. */
  public LlamaConfig withSeqLen(int seqLen) {
    return new LlamaConfig(dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage,
        normEps, ropeTheta, tieWordEmbeddings);
  }

  /** A config with HF's default {@code normEps} and {@code ropeTheta}. */
  public static LlamaConfig of(
      int dim,
      int layers,
      int heads,
      int kvHeads,
      int ffnDim,
      int vocab,
      int seqLen,
      int layersPerStage) {
    return new LlamaConfig(
        dim,
        layers,
        heads,
        kvHeads,
        ffnDim,
        vocab,
        seqLen,
        layersPerStage,
        DEFAULT_NORM_EPS,
        DEFAULT_ROPE_THETA);
  }

  /** Channels per attention head, {@code dim / heads}. */
  public int headDim() {
    return dim / heads;
  }

  /** Number of pipeline stages, {@code layers / layersPerStage}. */
  public int stages() {
    return layers / layersPerStage;
  }

  /** Query heads served by one KV head, {@code heads / kvHeads}. */
  public int groupSize() {
    return heads / kvHeads;
  }

  /** First global layer index of stage {@code s}. */
  public int firstLayer(int stage) {
    checkStage(stage);
    return stage * layersPerStage;
  }

  /** Throws when {@code stage} is not in [0, stages()). */
  public void checkStage(int stage) {
    if (stage < 0 || stage >= stages()) {
      throw new IllegalArgumentException(
          "stage "
              + stage
              + " does not exist: this model has "
              + stages()
              + " stages ("
              + layers
              + " layers / "
              + layersPerStage
              + " per stage); use 0.."
              + (stages() - 1)
              + ".");
    }
  }

  /** Total number of parameters of the whole model (no biases; the head counted once if tied). */
  public long parameterCount() {
    long hd = headDim();
    long perLayer =
        2L * dim
            + (long) heads * hd * dim
            + 2L * kvHeads * hd * dim
            + (long) dim * heads * hd
            + 3L * ffnDim * dim;
    return perLayer * layers + (tieWordEmbeddings ? 1L : 2L) * vocab * dim + dim;
  }

  /** Reads a model spec JSON (the {@code conf/models} format); unknown keys are ignored. */
  public static LlamaConfig fromJson(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return fromJson(in, file.toString());
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read model spec "
              + file
              + ": "
              + e.getMessage()
              + "; pass an existing JSON file or a preset name "
              + PRESETS
              + ".",
          e);
    }
  }

  /**
   * This config as a model spec JSON object (the {@code conf/models} keys, every field written):
   * {@link #fromJson(String, String)} reads it back equal.
   */
  public String toJson() {
    com.fasterxml.jackson.databind.node.ObjectNode o = JSON.createObjectNode();
    o.put("dim", dim).put("layers", layers).put("heads", heads).put("kvHeads", kvHeads)
        .put("ffnDim", ffnDim).put("vocab", vocab).put("seqLen", seqLen)
        .put("layersPerStage", layersPerStage).put("normEps", normEps)
        .put("ropeTheta", ropeTheta).put("tieWordEmbeddings", tieWordEmbeddings);
    return o.toString();
  }

  /** Reads a model spec from JSON text ({@code source} names it in errors). */
  public static LlamaConfig fromJson(String json, String source) {
    try {
      return fromJson(new java.io.ByteArrayInputStream(
          json.getBytes(java.nio.charset.StandardCharsets.UTF_8)), source);
    } catch (IOException e) {
      throw new IllegalArgumentException("model spec " + source + " is not valid JSON: "
          + e.getMessage(), e);
    }
  }

  private static LlamaConfig fromJson(InputStream in, String source) throws IOException {
    JsonNode n = JSON.readTree(in);
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException(
          "model spec " + source + " is not a JSON object; see conf/models/llama-tiny.json.");
    }
    return new LlamaConfig(
        required(n, "dim", source),
        required(n, "layers", source),
        required(n, "heads", source),
        n.has("kvHeads") ? n.get("kvHeads").asInt() : required(n, "heads", source),
        required(n, "ffnDim", source),
        required(n, "vocab", source),
        required(n, "seqLen", source),
        required(n, "layersPerStage", source),
        n.has("normEps") ? n.get("normEps").asDouble() : DEFAULT_NORM_EPS,
        n.has("ropeTheta") ? n.get("ropeTheta").asDouble() : DEFAULT_ROPE_THETA,
        n.path("tieWordEmbeddings").asBoolean(false));
  }

  /**
   * A preset by name ({@code llama-tiny}, ...) or a path to a JSON file. Presets are looked up in
   * {@code $skippipe.home/conf/models}, then {@code $skippipe.repo.root/conf/models}, then the
   * classpath resource {@code conf/models/NAME.json}.
   */
  public static LlamaConfig preset(String nameOrPath) {
    Path asPath = Path.of(nameOrPath);
    if (nameOrPath.endsWith(".json") && Files.isRegularFile(asPath)) {
      return fromJson(asPath);
    }
    List<Path> tried = new ArrayList<>();
    for (String prop : List.of("skippipe.home", "skippipe.repo.root")) {
      String root = System.getProperty(prop);
      if (root != null && !root.isBlank()) {
        Path p = Path.of(root, "conf", "models", nameOrPath + ".json");
        tried.add(p);
        if (Files.isRegularFile(p)) {
          return fromJson(p);
        }
      }
    }
    String resource = "conf/models/" + nameOrPath + ".json";
    try (InputStream in = LlamaConfig.class.getClassLoader().getResourceAsStream(resource)) {
      if (in != null) {
        return fromJson(in, "classpath:" + resource);
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read classpath:" + resource + ": " + e, e);
    }
    throw new IllegalArgumentException(
        "unknown model '"
            + nameOrPath
            + "': not a JSON file and not found as a preset (tried "
            + tried
            + " and classpath:"
            + resource
            + "); use one of "
            + PRESETS
            + " or a path to a model spec JSON, and set -Dskippipe.home to the install directory.");
  }

  private static int required(JsonNode n, String key, String source) {
    JsonNode v = n.get(key);
    if (v == null || !v.canConvertToInt()) {
      throw new IllegalArgumentException(
          "model spec "
              + source
              + " lacks integer field '"
              + key
              + "'; add it (see conf/models/llama-tiny.json).");
    }
    return v.asInt();
  }

  private static void positive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(
          "model " + name + " = " + value + " must be a positive integer; fix the model spec.");
    }
  }
}
