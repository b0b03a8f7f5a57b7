package io.skippipe.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
  @TempDir Path tmp;

  @Test
  void bundledCorpusHasDisjointSplitsOfAFewMegabytes() {
    List<String> train = Corpus.trainDocuments();
    List<String> valid = Corpus.validationDocuments();
    long trainChars = train.stream().mapToLong(String::length).sum();
    long validChars = valid.stream().mapToLong(String::length).sum();
    assertEquals(82, train.size());
    assertEquals(9, valid.size());
    assertTrue(trainChars > 3_000_000 && trainChars < 5_000_000, "train chars " + trainChars);
    assertTrue(validChars > 200_000, "validation chars " + validChars);
    assertTrue(train.get(0).startsWith("In the beginning God created the heaven and the earth."));
    for (String v : valid) {
      assertTrue(train.stream().noneMatch(t -> t.equals(v)), "validation document in train");
    }
  }

  @Test
  void bundledTokenizerLoadsOfflineThroughDjlAndRoundTrips() {
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      assertEquals(1024, tok.vocabSize());
      assertEquals(0, tok.eosId());
      String text = Corpus.validationDocuments().get(0).substring(0, 20_000);
      int[] ids = tok.encode(text);
      assertTrue(ids.length < text.length() / 2.5, "BPE should compress: " + ids.length);
      for (int id : ids) {
        assertTrue(id > 0 && id < 1024, "id " + id);
      }
      assertEquals(text, tok.decode(ids));
      // Bytes outside the training text still round-trip (byte-level BPE has no unknown token).
      String odd = "Naïve café — 東京 🚀\ttabs\r\nand  double  spaces.";
      assertEquals(odd, tok.decode(tok.encode(odd)));
      assertArrayEquals(tok.encode("And God said"), tok.encodeAll(List.of("And God said")).get(0));
    }
  }

  /**
   * The ids DJL's Rust tokenizer produces equal those of an independent Java encoder that applies
   * the merges of tokenizer.json by rank (the BPE rule), so the file means what the trainer meant.
   * The text is longer than one piece (TextPieces.DEFAULT_MAX_CHARS), so this also shows that
   * encoding in pieces gives the ids of the whole text.
   */
  @Test
  void djlEncodingEqualsAnIndependentMergeByRankEncoder() throws IOException {
    String text = Corpus.validationDocuments().get(3).substring(0, 8000)
        + Corpus.validationDocuments().get(8);
    assertTrue(text.length() > TextPieces.DEFAULT_MAX_CHARS, "length " + text.length());
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      assertArrayEquals(referenceIds(text), tok.encode(text));
    }
  }

  /** Pieces of any size down to a few dozen characters give the ids of the whole text. */
  @Test
  void encodingInSmallPiecesEqualsEncodingTheWholeText() throws IOException {
    String text = Corpus.validationDocuments().get(5).substring(0, 12_000)
        + "  double  spaces,\n\n  indented lines\n\ttabs\u00a0and non-breaking spaces.";
    int[] whole = referenceIds(text);
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      for (int max : new int[] {80, 97, 1000}) {
        List<Integer> ids = new ArrayList<>();
        StringBuilder back = new StringBuilder();
        TextPieces.cut(text, max, p -> {
          assertTrue(p.length() <= max, "piece of " + p.length() + " > " + max);
          back.append(p);
          for (int id : tok.encode(p)) {
            ids.add(id);
          }
        });
        assertEquals(text, back.toString());
        assertArrayEquals(whole, ids.stream().mapToInt(Integer::intValue).toArray(), "max " + max);
      }
    }
  }

  /** Text without a word start is cut hard, never inside a surrogate pair. */
  @Test
  void piecesOfTextWithoutSpacesAreCutAtTheLimitKeepingSurrogatePairs() {
    String rockets = "\uD83D\uDE80".repeat(100); // 200 chars, 100 code points
    List<String> pieces = new ArrayList<>();
    TextPieces.cut(rockets, 33, pieces::add);
    assertEquals(rockets, String.join("", pieces));
    for (String p : pieces) {
      assertTrue(p.length() <= 33 && !Character.isLowSurrogate(p.charAt(0)), p);
    }
    pieces.clear();
    TextPieces.cut("x".repeat(100), 30, pieces::add);
    assertEquals(List.of(30, 30, 30, 10), pieces.stream().map(String::length).toList());
  }

  /** Issue 10: user text must never produce special tokens; it decodes back to itself. */
  @Test
  void theLiteralEndOfTextInUserTextIsOrdinaryText() {
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      for (String text : List.of("a<|endoftext|>b", "<|endoftext|>", "x <|endoftext|>\n<|endoftext|>")) {
        int[] ids = tok.encode(text);
        assertTrue(Arrays.stream(ids).noneMatch(id -> id == tok.eosId()),
            text + " -> " + Arrays.toString(ids));
        assertEquals(text, tok.decode(ids));
      }
      String longText = "word ".repeat(5000) + "<|endoftext|>" + " word".repeat(5000);
      assertTrue(Arrays.stream(tok.encode(longText)).noneMatch(id -> id == tok.eosId()));
    }
  }

  /** A tokenizer whose model maps a word onto its special token is refused, naming the token. */
  @Test
  void aModelVocabularyThatMapsTextOntoASpecialTokenIsAClearError() throws IOException {
    String json = """
        {"version": "1.0", "added_tokens": [{"id": 0, "content": "<|endoftext|>",
          "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
          "special": true}],
         "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
         "post_processor": null, "decoder": null,
         "model": {"type": "WordLevel", "vocab": {"<|endoftext|>": 0, "hello": 1, "[UNK]": 2},
           "unk_token": "[UNK]"}}
        """;
    String m = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.fromJson(
        json.getBytes(StandardCharsets.UTF_8), "w.json")).getMessage();
    assertTrue(m.contains("w.json maps the text \"<|endoftext|>\" onto its special token 0"), m);
    // the same model without that vocabulary entry loads, and its unknown token is known
    try (TextTokenizer tok = TextTokenizer.fromJson(json.replace("\"<|endoftext|>\": 0, ", "")
        .getBytes(StandardCharsets.UTF_8), "w")) {
      assertArrayEquals(new int[] {1, 2}, tok.encode("hello there"));
      assertArrayEquals(new int[] {2}, tok.encode("<|endoftext|>"));
      assertEquals("[UNK]", tok.specialTokens().unk().content());
    }
  }

  /** BOS/EOS/PAD come from the tokenizer's own special tokens, not from fixed ids. */
  @Test
  void specialTokensAreTheTokenizersOwn() throws IOException {
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      TextTokenizer.SpecialTokens s = tok.specialTokens();
      assertEquals(new TextTokenizer.Token("<|endoftext|>", 0), s.eos());
      assertEquals(s.eos(), s.pad(), "no pad token: pad is EOS");
      assertEquals(null, s.unk());
    }
    String json = BpeTrainer.train(List.of(Corpus.trainDocuments().get(2).substring(0, 5000)),
        300, List.of("<pad>", "</s>"));
    try (TextTokenizer tok = TextTokenizer.fromJson(json.getBytes(StandardCharsets.UTF_8), "t")) {
      assertEquals(new TextTokenizer.Token("</s>", 1), tok.specialTokens().eos());
      assertEquals(new TextTokenizer.Token("<pad>", 0), tok.specialTokens().pad());
      assertEquals(1, tok.eosId());
      assertTrue(Arrays.stream(tok.encode("x</s>y<pad>")).noneMatch(id -> id < 2));
    }
  }

  /** GPT-2 byte-level BPE applied by merge rank, written from the tokenizer.json alone. */
  private static int[] referenceIds(String text) throws IOException {
    JsonNode model;
    try (InputStream in = Corpus.open(Corpus.TOKENIZER)) {
      model = new ObjectMapper().readTree(in).get("model");
    }
    Map<String, Integer> vocab = new HashMap<>();
    model.get("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
    Map<String, Integer> rank = new HashMap<>();
    for (JsonNode m : model.get("merges")) {
      rank.putIfAbsent(m.asText(), rank.size());
    }
    assertEquals(1024, vocab.size(), "1024 ids, the special token included");
    List<Integer> expected = new ArrayList<>();
    Matcher m = BpeTrainer.GPT2_SPLIT.matcher(text);
    while (m.find()) {
      List<String> sym = new ArrayList<>();
      for (char c : BpeTrainer.toByteChars(m.group()).toCharArray()) {
        sym.add(String.valueOf(c));
      }
      while (true) {
        int best = -1;
        int bestRank = Integer.MAX_VALUE;
        for (int i = 0; i + 1 < sym.size(); i++) {
          Integer r = rank.get(sym.get(i) + " " + sym.get(i + 1));
          if (r != null && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) {
          break;
        }
        sym.set(best, sym.get(best) + sym.remove(best + 1));
      }
      sym.forEach(s -> expected.add(vocab.get(s)));
    }
    return expected.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void trainerIsDeterministicAndItsOutputLoads() throws IOException {
    List<String> docs = List.of(Corpus.trainDocuments().get(1).substring(0, 30_000),
        Corpus.trainDocuments().get(80));
    String a = BpeTrainer.train(docs, 400, List.of(BpeTrainer.END_OF_TEXT));
    String b = BpeTrainer.train(docs, 400, List.of(BpeTrainer.END_OF_TEXT));
    assertEquals(a, b);
    assertNotEquals(a, BpeTrainer.train(docs, 380, List.of(BpeTrainer.END_OF_TEXT)));
    JsonNode root = new ObjectMapper().readTree(a);
    assertEquals("BPE", root.get("model").get("type").asText());
    assertEquals("ByteLevel", root.get("pre_tokenizer").get("type").asText());
    assertEquals("ByteLevel", root.get("decoder").get("type").asText());
    assertEquals(143, root.get("model").get("merges").size());
    Path f = tmp.resolve("tokenizer.json");
    Files.writeString(f, a);
    try (TextTokenizer tok = TextTokenizer.load(f)) {
      assertEquals(400, tok.vocabSize());
      String s = docs.get(0).substring(0, 2000);
      assertEquals(s, tok.decode(tok.encode(s)));
    }
  }

  @Test
  void badTokenizerFilesAreClearErrors() throws IOException {
    Path f = tmp.resolve("t.json");
    Files.writeString(f, "{\"model\": 3");
    String m = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(f))
        .getMessage();
    assertTrue(m.contains("not valid JSON"), m);
    Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    m = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(f)).getMessage();
    assertTrue(m.contains("end-of-text"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> TextTokenizer.load(tmp.resolve("missing.json"))).getMessage();
    assertTrue(m.contains("does not exist"), m);
  }
}
