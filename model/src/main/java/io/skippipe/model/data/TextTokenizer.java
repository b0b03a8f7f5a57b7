package io.skippipe.model.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer read from a Hugging Face {@code tokenizer.json}, run by DJL's tokenizers (the Rust
 * {@code tokenizers} library, whose native code ships inside the DJL jar, so it loads offline).
 * Text is encoded without special tokens, truncation or padding; the packer inserts the
 * document separator itself.
 */
public final class TextTokenizer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, String> OPTIONS = Map.of(
      "addSpecialTokens", "false", "truncation", "false", "padding", "false",
      "modelMaxLength", Integer.toString(Integer.MAX_VALUE));

  private final HuggingFaceTokenizer hf;
  private final int vocabSize;
  private final int eosId;
  private final String source;

  private TextTokenizer(byte[] json, String source) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(source + " is not valid JSON (" + e.getOriginalMessage()
          + "); give a Hugging Face tokenizer.json", e);
    }
    JsonNode vocab = root == null ? null : root.path("model").get("vocab");
    if (vocab == null || !vocab.isObject()) {
      throw new IllegalArgumentException(source + " has no model.vocab object; give a Hugging"
          + " Face tokenizer.json of a BPE/WordPiece/WordLevel model");
    }
    int max = -1;
    for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
      max = Math.max(max, id.asInt());
    }
    int eos = -1;
    for (JsonNode t : root.path("added_tokens")) {
      max = Math.max(max, t.path("id").asInt());
      String c = t.path("content").asText();
      if (t.path("special").asBoolean() && eos < 0 && (c.equals(BpeTrainer.END_OF_TEXT)
          || c.equals("</s>") || c.equals("<|end_of_text|>") || c.equals("<eos>"))) {
        eos = t.path("id").asInt();
      }
    }
    if (eos < 0) {
      throw new IllegalArgumentException(source + " has no special end-of-text token (one of "
          + BpeTrainer.END_OF_TEXT + ", </s>, <|end_of_text|>, <eos> in added_tokens); the"
          + " packer needs one to separate documents. Add it as a special added token");
    }
    this.vocabSize = max + 1;
    this.eosId = eos;
    this.source = source;
    this.hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), OPTIONS);
  }

  /** The tokenizer bundled with the corpus (vocab 1024, {@code <|endoftext|>} = 0). */
  public static TextTokenizer bundled() {
    try (InputStream in = Corpus.open(Corpus.TOKENIZER)) {
      return new TextTokenizer(in.readAllBytes(), "bundled " + Corpus.TOKENIZER);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Loads a {@code tokenizer.json} file. */
  public static TextTokenizer load(Path tokenizerJson) throws IOException {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IllegalArgumentException(tokenizerJson + " does not exist; give the path of a"
          + " Hugging Face tokenizer.json");
    }
    return new TextTokenizer(Files.readAllBytes(tokenizerJson), tokenizerJson.toString());
  }

  /** A tokenizer from the bytes of a {@code tokenizer.json}; {@code source} names it in errors. */
  public static TextTokenizer fromJson(byte[] json, String source) throws IOException {
    return new TextTokenizer(json, source);
  }

  /** Token ids of a text (no special tokens added). */
  public int[] encode(String text) {
    return toInts(hf.encode(text, false, false).getIds());
  }

  /** Token ids of several texts, encoded in parallel by the native library. */
  public List<int[]> encodeAll(List<String> texts) {
    Encoding[] enc = hf.batchEncode(texts.toArray(new String[0]), false, false);
    List<int[]> out = new ArrayList<>(enc.length);
    for (Encoding e : enc) {
      out.add(toInts(e.getIds()));
    }
    return out;
  }

  /** Text of token ids; special tokens are dropped. */
  public String decode(int[] ids) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return hf.decode(l, true);
  }

  /** Number of ids (largest id + 1), the model's {@code vocab_size}. */
  public int vocabSize() {
    return vocabSize;
  }

  /** Id of the end-of-text token that separates documents (also used as BOS). */
  public int eosId() {
    return eosId;
  }

  @Override
  public String toString() {
    return "TextTokenizer(" + source + ", vocab " + vocabSize + ", eos " + eosId + ")";
  }

  @Override
  public void close() {
    hf.close();
  }

  private static int[] toInts(long[] ids) {
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }
}
