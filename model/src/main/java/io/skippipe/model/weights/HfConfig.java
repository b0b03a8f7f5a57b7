package io.skippipe.model.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Hugging Face {@code config.json} of a {@code LlamaForCausalLM}: the fields a Python user
 * needs to load our safetensors with {@code transformers}, and the dimensions our own code checks weights
 * against. It deliberately does not depend on the DJL-side {@code LlamaConfig}, so the reference
 * implementation and the weight files share nothing with the code they check.
 *
 * @param hiddenSize model width {@code dim}
 * @param intermediateSize SwiGLU hidden width {@code ffnDim}
 * @param numAttentionHeads query heads
 * @param numKeyValueHeads key/value heads (grouped-query attention); divides the query heads
 * @param numHiddenLayers decoder layers in the whole model
 * @param vocabSize tokens in the vocabulary
 * @param rmsNormEps epsilon of RMSNorm
 * @param ropeTheta base of the rotary position embedding
 * @param maxPositionEmbeddings longest sequence the model is meant for
 * @param bosTokenId id that starts a document
 * @param eosTokenId id that ends a document
 * @param padTokenId id that pads a batch (the tokenizer's pad token, or EOS when it has none)
 * @param tieWordEmbeddings the LM head reuses the token embedding matrix ({@code
 *     tie_word_embeddings}); the files then hold no {@code lm_head.weight}
 */
public record HfConfig(
    int hiddenSize,
    int intermediateSize,
    int numAttentionHeads,
    int numKeyValueHeads,
    int numHiddenLayers,
    int vocabSize,
    double rmsNormEps,
    double ropeTheta,
    int maxPositionEmbeddings,
    int bosTokenId,
    int eosTokenId,
    int padTokenId,
    boolean tieWordEmbeddings) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Checks every field; the message names the field, the value, the rule and the fix. */
  public HfConfig {
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_attention_heads", numAttentionHeads);
    positive("num_key_value_heads", numKeyValueHeads);
    positive("num_hidden_layers", numHiddenLayers);
    positive("vocab_size", vocabSize);
    positive("max_position_embeddings", maxPositionEmbeddings);
    if (hiddenSize % numAttentionHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads "
              + numAttentionHeads + ": the head dimension must be a whole number; choose heads"
              + " that divide the width");
    }
    if ((hiddenSize / numAttentionHeads) % 2 != 0) {
      throw new IllegalArgumentException(
          "head dimension " + hiddenSize / numAttentionHeads + " (hidden_size / heads) is odd:"
              + " rotary embeddings rotate pairs of channels; choose an even head dimension");
    }
    if (numAttentionHeads % numKeyValueHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads " + numAttentionHeads + " is not a multiple of num_key_value_heads "
              + numKeyValueHeads + ": each key/value head serves a whole group of query heads;"
              + " choose kv heads that divide the query heads");
    }
    if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
      throw new IllegalArgumentException(
          "rms_norm_eps " + rmsNormEps + " and rope_theta " + ropeTheta
              + " must both be positive; use e.g. 1e-5 and 10000");
    }
    for (int id : new int[] {bosTokenId, eosTokenId, padTokenId}) {
      if (id < 0 || id >= vocabSize) {
        throw new IllegalArgumentException(
            "bos/eos/pad token id " + id + " is outside the vocabulary [0, " + vocabSize
                + "); use an id of the tokenizer's special token");
      }
    }
  }

  /**
   * A config whose pad token is the EOS token, with a separate LM head ({@code
   * tie_word_embeddings=false}).
   */
  public HfConfig(int hiddenSize, int intermediateSize, int numAttentionHeads,
      int numKeyValueHeads, int numHiddenLayers, int vocabSize, double rmsNormEps,
      double ropeTheta, int maxPositionEmbeddings, int bosTokenId, int eosTokenId) {
    this(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
        vocabSize, rmsNormEps, ropeTheta, maxPositionEmbeddings, bosTokenId, eosTokenId,
        eosTokenId, false);
  }

  /**
   * Our model config of this architecture (width, layers, heads, kv heads, FFN width, vocabulary,
   * RMSNorm epsilon, RoPE theta, tied embeddings) trained on sequences of {@code seqLen} tokens,
   * cut into stages of {@code layersPerStage} layers.
   *
   * @throws IllegalArgumentException when {@code layersPerStage} does not divide the layers
   */
  public io.skippipe.model.LlamaConfig llamaConfig(int seqLen, int layersPerStage) {
    return new io.skippipe.model.LlamaConfig(hiddenSize, numHiddenLayers, numAttentionHeads,
        numKeyValueHeads, intermediateSize, vocabSize, seqLen, layersPerStage, rmsNormEps,
        ropeTheta, tieWordEmbeddings);
  }

  /** Width of one attention head. */
  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  /**
   * The config of our {@code llama-tiny} preset (conf/models/llama-tiny.json) with the bundled
   * tokenizer's special token (id 0 is both BOS and EOS).
   */
  public static HfConfig llamaTiny() {
    return new HfConfig(64, 176, 4, 2, 12, 1024, 1e-5, 10000.0, 64, 0, 0);
  }

  /**
   * The HF config of one of our model configurations, with the ids of the tokenizer's BOS and EOS
   * tokens (the bundled tokenizer uses 0 for both); the pad token is EOS.
   */
  public static HfConfig from(io.skippipe.model.LlamaConfig m, int bosTokenId, int eosTokenId) {
    return from(m, bosTokenId, eosTokenId, eosTokenId);
  }

  /** The HF config of one of our model configurations with the tokenizer's BOS, EOS and PAD ids. */
  public static HfConfig from(io.skippipe.model.LlamaConfig m, int bosTokenId, int eosTokenId,
      int padTokenId) {
    return new HfConfig(m.dim(), m.ffnDim(), m.heads(), m.kvHeads(), m.layers(), m.vocab(),
        m.normEps(), m.ropeTheta(), m.seqLen(), bosTokenId, eosTokenId, padTokenId,
        m.tieWordEmbeddings());
  }

  /** The JSON object of {@code config.json}, in the key names transformers reads. */
  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    o.putArray("architectures").add("LlamaForCausalLM");
    o.put("model_type", "llama");
    o.put("hidden_size", hiddenSize);
    o.put("intermediate_size", intermediateSize);
    o.put("num_attention_heads", numAttentionHeads);
    o.put("num_key_value_heads", numKeyValueHeads);
    o.put("num_hidden_layers", numHiddenLayers);
    o.put("head_dim", headDim());
    o.put("vocab_size", vocabSize);
    o.put("rms_norm_eps", rmsNormEps);
    o.put("rope_theta", ropeTheta);
    o.put("max_position_embeddings", maxPositionEmbeddings);
    o.put("hidden_act", "silu");
    o.put("attention_bias", false);
    o.put("mlp_bias", false);
    o.put("tie_word_embeddings", tieWordEmbeddings);
    o.put("torch_dtype", "float32");
    o.put("bos_token_id", bosTokenId);
    o.put("eos_token_id", eosTokenId);
    o.put("pad_token_id", padTokenId);
    return o;
  }

  /** Writes {@code config.json} (pretty-printed UTF-8). */
  public void write(OutputStream out) throws IOException {
    out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(toJson()));
  }

  /** Writes {@code config.json} to a file. */
  public void write(Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      write(out);
    }
  }

  /** Reads a {@code config.json}; a missing or unsupported field is a clear error. */
  public static HfConfig read(InputStream in, String source) throws IOException {
    JsonNode o;
    try {
      o = JSON.readTree(in);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(
          source + " is not valid JSON (" + e.getOriginalMessage()
              + "); expected a Hugging Face config.json of a LlamaForCausalLM", e);
    }
    if (o == null || !o.isObject()) {
      throw new IllegalArgumentException(
          source + " is not a JSON object; expected a Hugging Face config.json");
    }
    JsonNode arch = o.path("architectures");
    if (arch.isArray() && arch.size() > 0 && !"LlamaForCausalLM".equals(arch.get(0).asText())) {
      throw new IllegalArgumentException(
          source + " describes a " + arch.get(0).asText()
              + "; only LlamaForCausalLM is supported");
    }
    int heads = required(o, "num_attention_heads", source);
    int hidden = required(o, "hidden_size", source);
    if (o.has("head_dim") && o.get("head_dim").asInt() != hidden / heads) {
      throw new IllegalArgumentException(
          source + " has head_dim " + o.get("head_dim").asInt() + " but hidden_size / heads = "
              + hidden / heads
              + "; only head_dim = hidden_size / num_attention_heads is supported");
    }
    unsupported(o, source);
    int eos = tokenId(o.path("eos_token_id"));
    JsonNode pad = o.path("pad_token_id");
    return new HfConfig(
        hidden,
        required(o, "intermediate_size", source),
        heads,
        o.has("num_key_value_heads") ? o.get("num_key_value_heads").asInt() : heads,
        required(o, "num_hidden_layers", source),
        required(o, "vocab_size", source),
        o.path("rms_norm_eps").asDouble(1e-5),
        o.path("rope_theta").asDouble(10000.0),
        o.path("max_position_embeddings").asInt(2048),
        tokenId(o.path("bos_token_id")),
        eos,
        pad.isMissingNode() || pad.isNull() ? eos : tokenId(pad),
        o.path("tie_word_embeddings").asBoolean(false));
  }

  /** Reads {@code config.json} from a file. */
  public static HfConfig read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString());
    }
  }

  /** Parses {@code config.json} text. */
  public static HfConfig parse(String json) {
    try {
      byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
      return read(new java.io.ByteArrayInputStream(bytes), "config");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Rejects the {@code LlamaForCausalLM} options our layers do not implement, which would
   * otherwise load without error and compute a different model: rotary scaling ({@code
   * rope_scaling}, e.g. Llama 3.1's {@code llama3} type), biases, an activation other than SiLU.
   */
  private static void unsupported(JsonNode o, String source) {
    JsonNode scaling = o.path("rope_scaling");
    if (!scaling.isMissingNode() && !scaling.isNull()) {
      throw new IllegalArgumentException(source + " has rope_scaling " + scaling + "; SkipPipe's"
          + " rotary embedding has no scaling (only rope_theta). Use a model without rope_scaling,"
          + " or remove it from config.json only if you accept a different model at long context");
    }
    for (String bias : new String[] {"attention_bias", "mlp_bias"}) {
      if (o.path(bias).asBoolean(false)) {
        throw new IllegalArgumentException(source + " has " + bias + "=true; SkipPipe's layers"
            + " have no biases (as LLaMA). Use a model without biases");
      }
    }
    String act = o.path("hidden_act").asText("silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException(source + " has hidden_act " + act + "; only silu (the"
          + " SwiGLU of LLaMA) is supported");
    }
  }

  /** A token id field; HF allows a list (several EOS ids), of which we take the first. */
  private static int tokenId(JsonNode v) {
    if (v.isArray()) {
      return v.size() > 0 ? v.get(0).asInt(0) : 0;
    }
    return v.asInt(0);
  }

  private static int required(JsonNode o, String key, String source) {
    JsonNode v = o.get(key);
    if (v == null || !v.canConvertToInt()) {
      throw new IllegalArgumentException(
          source + " lacks the integer field \"" + key + "\"; a LlamaForCausalLM config.json"
              + " must give it (see transformers' LlamaConfig)");
    }
    return v.asInt();
  }

  private static void positive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " is " + value + "; it must be positive");
    }
  }
}
