package io.skippipe.model.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A deterministic trainer of byte-level BPE tokenizers (Sennrich et al. 2016, "Neural Machine
 * Translation of Rare Words with Subword Units"; byte-level variant of GPT-2) that writes a Hugging
 * Face {@code tokenizer.json} ({@code model.type = BPE} with vocab and merges, {@code ByteLevel}
 * pre-tokenizer and decoder), loadable by DJL's {@code HuggingFaceTokenizer} and by Python's
 * {@code tokenizers}. There is no Python here, so this replaces {@code tokenizers}' trainer.
 *
 * <p>Vocabulary: id 0..(specials-1) are the special tokens (ours: {@code <|endoftext|>}, used as
 * both BOS and EOS), then the 256 byte symbols in byte order, then one token per merge. Each step
 * merges the most frequent adjacent pair of symbols over the pre-tokenized words weighted by their
 * counts; ties break on the smaller (left id, right id), so the result depends only on the text.
 *
 * <p>Command line (rebuilds the bundled tokenizer): {@code java -cp <model classpath>
 * io.skippipe.model.data.BpeTrainer OUT_TOKENIZER_JSON [VOCAB]}.
 */
public final class BpeTrainer {
  private BpeTrainer() {}

  /** The special token of the bundled tokenizer, id 0. */
  public static final String END_OF_TEXT = "<|endoftext|>";

  /** GPT-2's pre-tokenization pattern, as tokenizers' {@code ByteLevel(use_regex=true)} uses. */
  static final Pattern GPT2_SPLIT = Pattern.compile(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      Pattern.UNICODE_CHARACTER_CLASS);

  /** GPT-2's printable stand-in for each byte (so that tokens are visible strings). */
  static final char[] BYTE_TO_CHAR = byteToChar();

  private static char[] byteToChar() {
    char[] m = new char[256];
    boolean[] direct = new boolean[256];
    for (int b = '!'; b <= '~'; b++) {
      direct[b] = true;
    }
    for (int b = 0xA1; b <= 0xAC; b++) {
      direct[b] = true;
    }
    for (int b = 0xAE; b <= 0xFF; b++) {
      direct[b] = true;
    }
    int n = 0;
    for (int b = 0; b < 256; b++) {
      m[b] = direct[b] ? (char) b : (char) (256 + n++);
    }
    return m;
  }

  /** Trains on documents and returns the tokenizer.json text. */
  public static String train(List<String> documents, int vocabSize, List<String> specials) {
    if (vocabSize < specials.size() + 256) {
      throw new IllegalArgumentException("vocab size " + vocabSize + " is below the "
          + (specials.size() + 256) + " special and byte tokens; choose a larger vocab");
    }
    // Pre-tokenize and count words (each as a string of byte stand-ins). TreeMap: stable order.
    Map<String, Long> counts = new TreeMap<>();
    for (String doc : documents) {
      Matcher m = GPT2_SPLIT.matcher(doc);
      while (m.find()) {
        counts.merge(toByteChars(m.group()), 1L, Long::sum);
      }
    }
    List<String> tokens = new ArrayList<>(specials);
    Map<String, Integer> ids = new HashMap<>();
    for (String s : specials) {
      ids.put(s, ids.size());
    }
    for (int b = 0; b < 256; b++) {
      String t = String.valueOf(BYTE_TO_CHAR[b]);
      ids.put(t, tokens.size());
      tokens.add(t);
    }
    List<int[]> words = new ArrayList<>();
    List<Long> weights = new ArrayList<>();
    for (Map.Entry<String, Long> w : counts.entrySet()) {
      String s = w.getKey();
      int[] sym = new int[s.length()];
      for (int i = 0; i < sym.length; i++) {
        sym[i] = ids.get(String.valueOf(s.charAt(i)));
      }
      words.add(sym);
      weights.add(w.getValue());
    }
    List<String> merges = new ArrayList<>();
    Map<Long, Integer> mergedId = new HashMap<>();
    while (tokens.size() < vocabSize) {
      Map<Long, Long> pairs = new HashMap<>();
      for (int w = 0; w < words.size(); w++) {
        int[] sym = words.get(w);
        long c = weights.get(w);
        for (int i = 0; i + 1 < sym.length; i++) {
          pairs.merge(((long) sym[i] << 32) | sym[i + 1], c, Long::sum);
        }
      }
      long best = -1;
      long bestCount = 0;
      for (Map.Entry<Long, Long> p : pairs.entrySet()) {
        long c = p.getValue();
        if (c > bestCount || (c == bestCount && Long.compareUnsigned(p.getKey(), best) < 0)) {
          best = p.getKey();
          bestCount = c;
        }
      }
      if (best < 0) {
        break; // every word is a single token already
      }
      int left = (int) (best >>> 32);
      int right = (int) best;
      String merged = tokens.get(left) + tokens.get(right);
      Integer id = ids.get(merged);
      if (id == null) {
        id = tokens.size();
        ids.put(merged, id);
        tokens.add(merged);
      }
      mergedId.put(best, id);
      merges.add(tokens.get(left) + " " + tokens.get(right));
      for (int w = 0; w < words.size(); w++) {
        words.set(w, applyMerge(words.get(w), left, right, id));
      }
    }
    return toJson(tokens, specials.size(), merges);
  }

  private static int[] applyMerge(int[] sym, int left, int right, int id) {
    int n = 0;
    int[] out = null;
    for (int i = 0; i < sym.length; i++) {
      if (i + 1 < sym.length && sym[i] == left && sym[i + 1] == right) {
        if (out == null) {
          out = new int[sym.length - 1];
          System.arraycopy(sym, 0, out, 0, i);
          n = i;
        }
        out[n++] = id;
        i++;
      } else if (out != null) {
        out[n++] = sym[i];
      }
    }
    return out == null ? sym : java.util.Arrays.copyOf(out, n);
  }

  static String toByteChars(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    char[] c = new char[b.length];
    for (int i = 0; i < b.length; i++) {
      c[i] = BYTE_TO_CHAR[b[i] & 0xff];
    }
    return new String(c);
  }

  private static String toJson(List<String> tokens, int specials, List<String> merges) {
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = json.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (int i = 0; i < specials; i++) {
      ObjectNode t = added.addObject();
      t.put("id", i);
      t.put("content", tokens.get(i));
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
    }
    root.putNull("normalizer");
    root.set("pre_tokenizer", byteLevel(json, true));
    root.set("post_processor", byteLevel(json, false));
    root.set("decoder", byteLevel(json, true));
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    ObjectNode vocab = model.putObject("vocab");
    Map<String, Integer> ordered = new LinkedHashMap<>();
    for (int i = 0; i < tokens.size(); i++) {
      ordered.putIfAbsent(tokens.get(i), i);
    }
    ordered.forEach(vocab::put);
    ArrayNode m = model.putArray("merges");
    merges.forEach(m::add);
    try {
      return json.writeValueAsString(root) + "\n";
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A ByteLevel component; no prefix space, so decode(encode(text)) is exactly text. */
  private static ObjectNode byteLevel(ObjectMapper json, boolean trim) {
    ObjectNode o = json.createObjectNode();
    o.put("type", "ByteLevel");
    o.put("add_prefix_space", false);
    o.put("trim_offsets", trim);
    o.put("use_regex", true);
    return o;
  }

  /** Rebuilds a tokenizer from the bundled training split: {@code OUT [VOCAB]}. */
  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: BpeTrainer OUT_TOKENIZER_JSON [VOCAB=1024]");
      System.exit(2);
    }
    int vocab = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
    long t0 = System.nanoTime();
    String json = train(Corpus.trainDocuments(), vocab, List.of(END_OF_TEXT));
    Files.writeString(Path.of(args[0]), json);
    System.out.printf("wrote %s (vocab %d) in %.1f s%n", args[0], vocab,
        (System.nanoTime() - t0) / 1e9);
  }
}
