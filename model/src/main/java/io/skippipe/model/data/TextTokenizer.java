package io.skippipe.model.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A tokenizer read from a Hugging Face {@code tokenizer.json}, run by DJL's tokenizers (the Rust
 * {@code tokenizers} library, whose native code ships inside the DJL jar, so it loads offline).
 *
 * <p>Special tokens come only from the packer, never from text: text is encoded by a second
 * instance of the tokenizer whose {@code added_tokens} list lacks the special ones, so a literal
 * {@code <|endoftext|>} in a document is ordinary text (with our byte-level BPE: the ids of
 * {@code "<|"}, {@code "endoftext"}, {@code "|>"}) and decodes back to itself. (DJL does not expose
 * the library's {@code encode_special_tokens} switch.) Should a tokenizer's model vocabulary still
 * map text onto a special token, it is refused when loaded (the text of each special token is
 * encoded to check) and {@link #encode} fails naming it. Text is encoded without
 * truncation, padding or added special tokens, in pieces of at most {@link
 * TextPieces#DEFAULT_MAX_CHARS} characters cut where the pre-tokenizer splits anyway (see {@link
 * TextPieces}).
 */
public final class TextTokenizer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, String> OPTIONS = Map.of(
      "addSpecialTokens", "false", "truncation", "false", "padding", "false",
      "modelMaxLength", Integer.toString(Integer.MAX_VALUE));
  private static final Set<String> EOS_NAMES =
      Set.of(BpeTrainer.END_OF_TEXT, "</s>", "<|end_of_text|>", "<eos>");
  private static final Set<String> PAD_NAMES =
      Set.of("<pad>", "<|pad|>", "[PAD]", "<|padding|>", "<|finetune_right_pad_id|>");

  /**
   * The special tokens the packer and an exported model use.
   *
   * @param eos the document separator; the packer puts it before every document and after the
   *     last, so it is also the token a document starts with (BOS)
   * @param pad the padding token: a special token named like one (e.g. {@code <pad>}), else EOS
   * @param unk the model's unknown token, or null (byte-level BPE has none)
   */
  public record SpecialTokens(Token eos, Token pad, Token unk) {}

  /** A token's text and id. */
  public record Token(String content, int id) {}

  private final byte[] json;
  private final HuggingFaceTokenizer hf;
  private final HuggingFaceTokenizer encoder;
  private final int vocabSize;
  private final SpecialTokens specials;
  private final boolean[] isSpecial;
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
    Token eos = null;
    Token pad = null;
    List<Integer> specialIds = new ArrayList<>();
    List<String> specialTexts = new ArrayList<>();
    ArrayNode kept = JSON.createArrayNode();
    for (JsonNode t : root.path("added_tokens")) {
      int id = t.path("id").asInt();
      max = Math.max(max, id);
      String c = t.path("content").asText();
      if (!t.path("special").asBoolean()) {
        kept.add(t);
        continue;
      }
      specialIds.add(id);
      specialTexts.add(c);
      if (eos == null && EOS_NAMES.contains(c)) {
        eos = new Token(c, id);
      }
      if (pad == null && PAD_NAMES.contains(c)) {
        pad = new Token(c, id);
      }
    }
    if (eos == null) {
      throw new IllegalArgumentException(source + " has no special end-of-text token (one of "
          + EOS_NAMES + " in added_tokens with \"special\": true); the packer needs one to"
          + " separate documents. Add it as a special added token");
    }
    JsonNode unkName = root.path("model").path("unk_token");
    Token unk = unkName.isTextual() && vocab.has(unkName.asText())
        ? new Token(unkName.asText(), vocab.get(unkName.asText()).asInt()) : null;
    this.vocabSize = max + 1;
    this.specials = new SpecialTokens(eos, pad != null ? pad : eos, unk);
    this.isSpecial = new boolean[vocabSize];
    specialIds.forEach(i -> isSpecial[i] = true);
    this.source = source;
    this.json = json.clone();
    ObjectNode textOnly = ((ObjectNode) root).deepCopy();
    textOnly.set("added_tokens", kept);
    HuggingFaceTokenizer full = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json),
        OPTIONS);
    HuggingFaceTokenizer textEncoder = null;
    try {
      textEncoder = HuggingFaceTokenizer.newInstance(
          new ByteArrayInputStream(JSON.writeValueAsBytes(textOnly)), OPTIONS);
      this.encoder = textEncoder;
      for (String c : specialTexts) {
        encodePiece(c); // fails if the text of a special token encodes to a special token
      }
    } catch (IOException | RuntimeException e) {
      full.close();
      if (textEncoder != null) {
        textEncoder.close();
      }
      throw e;
    }
    this.hf = full;
  }

  /** The tokenizer bundled with the corpus (vocab 1024, {@code <|endoftext|>} = 0). */
  public static TextTokenizer bundled() {
    try {
      return new TextTokenizer(Corpus.tokenizerJson(), "bundled " + Corpus.TOKENIZER);
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

  /**
   * Token ids of a text; no special token is added, and none is produced from the text (see the
   * class comment).
   *
   * @throws IllegalArgumentException if the tokenizer's model maps text onto a special token
   */
  public int[] encode(String text) {
    if (text.length() <= TextPieces.DEFAULT_MAX_CHARS) {
      return encodePiece(text);
    }
    List<int[]> parts = new ArrayList<>();
    TextPieces.cut(text, TextPieces.DEFAULT_MAX_CHARS, p -> parts.add(encodePiece(p)));
    int n = 0;
    for (int[] p : parts) {
      n += p.length;
    }
    int[] out = new int[n];
    n = 0;
    for (int[] p : parts) {
      System.arraycopy(p, 0, out, n, p.length);
      n += p.length;
    }
    return out;
  }

  /**
   * Ids of one piece of text. It calls the native library directly: DJL's {@code Encoding} also
   * fetches tokens, offsets and masks, which made data preparation 2.5 times slower.
   */
  private int[] encodePiece(String text) {
    if (text.isEmpty()) {
      return new int[0];
    }
    TokenizersLibrary lib = TokenizersLibrary.LIB;
    long encoding = lib.encode(encoder.getHandle(), text, false);
    long[] ids;
    try {
      ids = lib.getTokenIds(encoding);
    } finally {
      lib.deleteEncoding(encoding);
    }
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      int id = Math.toIntExact(ids[i]);
      if (id < isSpecial.length && isSpecial[id]) {
        throw new IllegalArgumentException(source + " maps the text \"" + abbreviate(text)
            + "\" onto its special token " + id + ": its model vocabulary holds the special"
            + " token as text. Use a tokenizer whose special tokens are only added tokens");
      }
      out[i] = id;
    }
    return out;
  }

  /** Token ids of several texts (each as {@link #encode}). */
  public List<int[]> encodeAll(List<String> texts) {
    List<int[]> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      out.add(encode(t));
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
    return specials.eos().id();
  }

  /** The special tokens (EOS = BOS, PAD, UNK). */
  public SpecialTokens specialTokens() {
    return specials;
  }

  /** The {@code tokenizer.json} bytes this tokenizer was read from. */
  public byte[] json() {
    return json.clone();
  }

  @Override
  public String toString() {
    return "TextTokenizer(" + source + ", vocab " + vocabSize + ", eos " + eosId() + ")";
  }

  @Override
  public void close() {
    try {
      encoder.close();
    } finally {
      hf.close();
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 60) + "…";
  }
}
