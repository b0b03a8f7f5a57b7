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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
   */
  @Test
  void djlEncodingEqualsAnIndependentMergeByRankEncoder() throws IOException {
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
    String text = Corpus.validationDocuments().get(3).substring(0, 8000)
        + Corpus.validationDocuments().get(8);
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
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      int[] ids = tok.encode(text);
      assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), ids);
    }
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
