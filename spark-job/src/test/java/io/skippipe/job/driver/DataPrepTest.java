package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.data.ShardWriter;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.TextTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data preparation on real files in {@code local[2]}: documents and line breaks per {@code
 * textDocument}, special tokens only from the packer, skipped-record counts and their threshold,
 * input that is refused before anything is written, streaming of a long single line, splits that
 * read each record once, reuse of prepared shards. Shards are decoded back to text to check them.
 */
class DataPrepTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(2);
  static final List<Integer> NODES = List.of(0, 5);
  static final int SEQ = 16;
  static TextTokenizer tok;

  @TempDir Path tmp;

  @BeforeAll
  static void tokenizer() {
    tok = TextTokenizer.bundled();
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  static final String POEMS = """
      Roses are red,
      Violets are blue,

      Sugar is sweet,
      And so are you.

      The rain in Spain
      stays mainly in the plain.
      """;

  /** Issue 10: plain text keeps its line breaks; textDocument says what a document is. */
  @Test
  void textDocumentsKeepTheirLineBreaks() throws Exception {
    String text = (POEMS + "\n").repeat(3);
    Path in = write("poems.txt", text);
    // file (the default): one document, verbatim, line breaks and blank lines kept
    List<String> docs = documents(prepare(in, Map.of()));
    assertEquals(1, docs.size(), docs.toString());
    assertTrue(text.startsWith(docs.get(0)), docs.get(0));
    assertTrue(docs.get(0).startsWith("Roses are red,\nViolets are blue,\n\nSugar is sweet,\n"));
    // paragraph: stanzas, each with its inner line break
    docs = documents(prepare(in, Map.of("spark.skippipe.data.textDocument", "paragraph")));
    assertEquals(List.of("Roses are red,\nViolets are blue,", "Sugar is sweet,\nAnd so are you.",
        "The rain in Spain\nstays mainly in the plain."), docs.subList(0, 3));
    // line: each non-blank line
    docs = documents(prepare(in, Map.of("spark.skippipe.data.textDocument", "line")));
    assertEquals(List.of("Roses are red,", "Violets are blue,", "Sugar is sweet,",
        "And so are you."), docs.subList(0, 4));
  }

  /** Windows line breaks: "\r\n\r\n" separates paragraphs, "\r\n" inside becomes "\n". */
  @Test
  void crlfParagraphs() throws Exception {
    Path in = write("crlf.txt", (POEMS + "\n").replace("\n", "\r\n").repeat(2));
    List<String> docs = documents(prepare(in, Map.of("spark.skippipe.data.textDocument",
        "paragraph")));
    assertEquals(List.of("Roses are red,\nViolets are blue,", "Sugar is sweet,\nAnd so are you."),
        docs.subList(0, 2));
  }

  /** Issue 10: the literal "<|endoftext|>" in user text is text; only the packer adds EOS. */
  @Test
  void theLiteralEndOfTextInTheInputIsText() throws Exception {
    String text = "Before the end <|endoftext|> after it.\n".repeat(20);
    Result r = prepare(write("eot.txt", text), Map.of());
    int[] stream = stream(r, 0);
    long eos = Arrays.stream(stream).filter(id -> id == tok.eosId()).count();
    assertEquals(1, eos, "only the separator before the one document (the tail is dropped)");
    String decoded = tok.decode(stream);
    assertTrue(text.startsWith(decoded) && decoded.contains("end <|endoftext|> after"), decoded);
  }

  /**
   * Issue 15: JSON lines missing the text field on a third of the lines are counted and refused
   * above data.maxSkippedFraction (default 1%); with a higher threshold they train on the rest.
   * Other skips are counted by reason.
   */
  @Test
  void skippedRecordsAreCountedAndLimited() throws Exception {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 90; i++) {
      b.append(i % 3 == 2 ? "{\"title\": \"no text " + i + "\"}"
          : "{\"text\": \"Line " + i + " of the JSON corpus, with words.\", \"id\": " + i + "}")
          .append('\n');
    }
    b.append("{\"text\": \"\"}\n").append("{\"text\": 5}\n").append("not json\n")
        .append("{\"text\": \"").append("x".repeat(3000)).append("\"}\n").append("\n");
    Path in = write("missing.jsonl", b.toString());
    ConfigException e = assertThrows(ConfigException.class, () -> prepare(in, Map.of()));
    assertEquals("spark.skippipe.data.maxSkippedFraction", e.key());
    assertTrue(e.getMessage().contains("33 of 94 records skipped (31 missing the field, 1 empty,"
        + " 1 undecodable, 0 too long)"), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("run/data")), "a refused preparation leaves no shards");

    Result r = prepare(in, Map.of("spark.skippipe.data.maxSkippedFraction", "0.4",
        "spark.skippipe.data.maxRecordBytes", "2048"));
    assertEquals(94, r.stats().records());
    assertEquals(31, r.stats().missingField());
    assertEquals(1, r.stats().empty());
    assertEquals(1, r.stats().undecodable());
    assertEquals(1, r.stats().tooLong());
    assertEquals(60, r.stats().documents());
    assertTrue(r.summary().contains("34 of 94 records skipped (31 missing the field, 1 empty, 1"
        + " undecodable, 1 too long)"), r.summary());
    assertTrue(documents(r).get(0).equals("Line 0 of the JSON corpus, with words."));
  }

  /**
   * Issue 15: each bad input is refused by the check, before anything is written, with the key,
   * the value and the fix: a missing path, a file that is not JSON lines, data.format=parquet on
   * a JSON file, a binary file, a missing or broken tokenizer.
   */
  @Test
  void badInputIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path json = write("a.jsonl", "{\"text\": \"hello\"}\n");
    Path notJson = write("b.jsonl", "hello world\nthis is text\n");
    byte[] random = new byte[100_000];
    new Random(7).nextBytes(random);
    Path binary = tmp.resolve("c.bin");
    Files.write(binary, random);
    Path brokenTokenizer = write("tokenizer.json", "{\"model\": ");
    Object[][] cases = {
        {Map.of("spark.skippipe.data.input", tmp.resolve("nope.txt").toString()),
            "spark.skippipe.data.input", "does not exist"},
        {Map.of("spark.skippipe.data.input", notJson.toString()), "spark.skippipe.data.input",
            "is not JSON lines: line 1"},
        {Map.of("spark.skippipe.data.input", json.toString(), "spark.skippipe.data.format",
            "parquet"), "spark.skippipe.data.format", "is not a Parquet file"},
        {Map.of("spark.skippipe.data.input", binary.toString()), "spark.skippipe.data.input",
            "does not look like UTF-8 text"},
        {Map.of("spark.skippipe.data.input", json.toString(), "spark.skippipe.data.tokenizer",
            tmp.resolve("none.json").toString()), "spark.skippipe.data.tokenizer", "is not a file"},
        {Map.of("spark.skippipe.data.input", json.toString(), "spark.skippipe.data.tokenizer",
            brokenTokenizer.toString()), "spark.skippipe.data.tokenizer", "not valid JSON"},
        {Map.of("spark.skippipe.data.input", json.toString(), "spark.skippipe.data.jsonField",
            ""), "spark.skippipe.data.jsonField", "must not be empty"},
    };
    for (Object[] c : cases) {
      @SuppressWarnings("unchecked")
      JobConfig cfg = config((Map<String, String>) c[0]);
      ConfigException e = assertThrows(ConfigException.class,
          () -> DataPrep.check(cfg, new Configuration(), 1024), c[0].toString());
      assertEquals(c[1], e.key(), e.getMessage());
      assertTrue(e.getMessage().contains((String) c[2]) && e.getMessage().contains("Fix: "),
          e.getMessage());
      assertThrows(ConfigException.class, () -> DataPrep.prepare(spark.session(), cfg, NODES,
          SEQ, 1024, Map.of()));
      assertFalse(Files.exists(tmp.resolve("run")), "nothing written for " + c[0]);
    }
    // allowNonText lets a binary file through the check
    DataPrep.check(config(Map.of("spark.skippipe.data.input", binary.toString(),
        "spark.skippipe.data.allowNonText", "true")), new Configuration(), 1024);
  }

  /** Binary bytes after the sniffed head are found by the full read and refused there. */
  @Test
  void nonTextAfterTheFirstBytesIsRefusedByTheFullRead() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(POEMS.repeat(1000).getBytes(StandardCharsets.UTF_8));
    assertTrue(b.size() > 65_536);
    byte[] random = new byte[200_000];
    new Random(3).nextBytes(random);
    b.write(random);
    Path in = tmp.resolve("late-binary.txt");
    Files.write(in, b.toByteArray());
    ConfigException e = assertThrows(ConfigException.class, () -> prepare(in, Map.of()));
    assertEquals("spark.skippipe.data.input", e.key());
    assertTrue(e.getMessage().contains("does not look like UTF-8 text"), e.getMessage());
    Result r = prepare(in, Map.of("spark.skippipe.data.allowNonText", "true"));
    assertTrue(r.stats().replacedBytes() > 50_000, r.summary());
  }

  /**
   * A long single line (1 MB here; the 200 MB case is measured in docs/BENCHMARKS.md) is read
   * and tokenized in pieces by the one split it starts in; the other splits skip it.
   */
  @Test
  void aLongSingleLineStreamsThroughOneSplit() throws Exception {
    StringBuilder b = new StringBuilder();
    Random r = new Random(11);
    String[] words = {"alpha", "beta", "gamma", "delta", "epsilon", "and", "the", "of"};
    while (b.length() < 1_000_000) {
      b.append(words[r.nextInt(words.length)]).append(' ');
    }
    String line = b.toString().trim();
    Path in = write("one-line.txt", line);
    for (String mode : List.of("line", "file")) {
      Result res = prepare(in, Map.of("spark.skippipe.data.textDocument", mode,
          "spark.skippipe.data.splitBytes", "65536"));
      assertEquals(1, res.stats().documents(), mode);
      assertEquals(tok.encode(line).length, res.stats().tokens(), mode);
      assertTrue(line.startsWith(tok.decode(stream(res, 0))), mode);
    }
  }

  /** Records are read exactly once however the input is split. */
  @Test
  void splitsReadEveryRecordOnce() throws Exception {
    StringBuilder text = new StringBuilder();
    StringBuilder json = new StringBuilder();
    Random r = new Random(2);
    for (int i = 0; i < 200; i++) {
      String s = "Record " + i + " says" + " word".repeat(r.nextInt(1, 30));
      text.append(s).append(i % 5 == 4 ? "\n\n" : "\n");
      json.append("{\"text\": \"").append(s).append("\"}\n");
    }
    Path t = write("split.txt", text.toString());
    Path j = write("split.jsonl", json.toString());
    for (Path in : List.of(t, j)) {
      for (String mode : in == j ? List.of("line") : List.of("line", "paragraph", "file")) {
        Result whole = prepare(in, Map.of("spark.skippipe.data.textDocument", mode));
        Result split = prepare(in, Map.of("spark.skippipe.data.textDocument", mode,
            "spark.skippipe.data.splitBytes", "4096"));
        String what = in.getFileName() + " " + mode;
        assertEquals(whole.stats().records(), split.stats().records(), what);
        assertEquals(whole.stats().documents(), split.stats().documents(), what);
        assertEquals(whole.stats().tokens(), split.stats().tokens(), what);
        assertTrue(split.stats().sequences() <= whole.stats().sequences(), what);
      }
    }
  }

  /** Compressed text and Parquet are read; a Parquet file without the column names the key. */
  @Test
  void gzipAndParquetInputs() throws Exception {
    Path gz = tmp.resolve("poems.txt.gz");
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
      o.write(POEMS.repeat(4).getBytes(StandardCharsets.UTF_8));
    }
    List<String> docs = documents(prepare(gz, Map.of("spark.skippipe.data.textDocument",
        "paragraph")));
    assertEquals("Roses are red,\nViolets are blue,", docs.get(0));
    // a glob names files; its braces would not survive a java.net.URI
    assertEquals(List.of("file:" + gz), DataPrep.check(config(Map.of(
        "spark.skippipe.data.input", tmp + "/{poems.txt.gz,absent.txt}")), new Configuration(),
        1024).files().stream().map(f -> f.uri()).toList());

    StructType schema = new StructType().add("id", DataTypes.IntegerType)
        .add("text", DataTypes.StringType);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      rows.add(RowFactory.create(i, i == 7 ? null : "Row " + i + " of the table."));
    }
    Path pq = tmp.resolve("table.parquet");
    spark.session().createDataFrame(rows, schema).coalesce(1).write().parquet(pq.toString());
    Result r = prepare(pq, Map.of("spark.skippipe.data.maxSkippedFraction", "0.05"));
    assertEquals(60, r.stats().records());
    assertEquals(1, r.stats().missingField());
    assertEquals("Row 0 of the table.", documents(r).get(0));
    ConfigException e = assertThrows(ConfigException.class, () -> DataPrep.check(config(Map.of(
        "spark.skippipe.data.input", pq.toString(), "spark.skippipe.data.jsonField", "body")),
        new Configuration(), 1024));
    assertEquals("spark.skippipe.data.jsonField", e.key());
    assertTrue(e.getMessage().contains("columns: id, text"), e.getMessage());
  }

  /** A second preparation with the same input and settings reuses the shards; a change redoes. */
  @Test
  void reusesShardsOfTheSameInputAndSettings() throws Exception {
    Path in = write("reuse.txt", POEMS.repeat(5));
    Result first = prepare(in, Map.of());
    assertFalse(first.reused());
    Result again = prepare(in, Map.of());
    assertTrue(again.reused(), again.summary());
    assertEquals(first.stats(), again.stats());
    Result other = prepare(in, Map.of("spark.skippipe.data.textDocument", "line"));
    assertFalse(other.reused());
    assertTrue(Files.exists(tmp.resolve("run/tokenizer.json")));
    assertArrayEquals(io.skippipe.model.data.Corpus.tokenizerJson(),
        Files.readAllBytes(tmp.resolve("run/tokenizer.json")));
  }

  /** Too little text for the data nodes is a clear error naming the node. */
  @Test
  void tooLittleTextForEveryDataNodeIsAClearError() throws Exception {
    Path in = write("tiny.txt", "Just a few words.\n");
    ConfigException e = assertThrows(ConfigException.class, () -> prepare(in, Map.of()));
    assertEquals("spark.skippipe.data.input", e.key());
    assertTrue(e.getMessage().contains("data node 0 gets none"), e.getMessage());
  }

  // ----------------------------------------------------------------------------------------------

  record Result(DataPrep.Result result, String dataDir) {
    io.skippipe.job.data.PrepStats stats() {
      return result.stats();
    }

    boolean reused() {
      return result.reused();
    }

    String summary() {
      return result.summary();
    }
  }

  Result prepare(Path input, Map<String, String> extra) throws IOException {
    Map<String, String> m = new HashMap<>(extra);
    m.put("spark.skippipe.data.input", input.toString());
    JobConfig cfg = config(m);
    DataPrep.Result r = DataPrep.prepare(spark.session(), cfg, NODES, SEQ, 1024, Map.of());
    return new Result(r, tmp.resolve("run/data").toString());
  }

  JobConfig config(Map<String, String> extra) {
    Map<String, String> m = new HashMap<>(extra);
    m.put("spark.skippipe.run.dir", tmp.resolve("run").toString());
    return JobConfig.parse(m);
  }

  Path write(String name, String text) throws IOException {
    Path p = tmp.resolve(name);
    Files.writeString(p, text);
    return p;
  }

  /**
   * The packed id stream of split {@code split}, rebuilt from the data nodes' part files: the
   * split's k-th sequence is with node (k + split) mod D; neighbours share one id.
   */
  static int[] stream(Result r, int split) throws IOException {
    List<List<int[]>> perNode = new ArrayList<>();
    for (int node : NODES) {
      List<int[]> seqs = new ArrayList<>();
      Path f = Path.of(ShardWriter.partFile(r.dataDir(), node, split));
      if (Files.exists(f)) {
        PackedDataset d;
        try (InputStream in = Files.newInputStream(f)) {
          d = PackedDataset.readFrom(in, f.toString());
        }
        for (int i = 0; i < d.size(); i++) {
          seqs.add(d.sequence(i));
        }
      }
      perNode.add(seqs);
    }
    List<Integer> ids = new ArrayList<>();
    int[] next = new int[NODES.size()];
    for (int k = 0; ; k++) {
      int n = (k + split) % NODES.size();
      if (next[n] >= perNode.get(n).size()) {
        break;
      }
      int[] s = perNode.get(n).get(next[n]++);
      for (int i = k == 0 ? 0 : 1; i < s.length; i++) {
        ids.add(s[i]);
      }
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The documents of split 0's stream: the text between EOS ids (the last may be cut). */
  static List<String> documents(Result r) throws IOException {
    int[] s = stream(r, 0);
    List<String> docs = new ArrayList<>();
    int from = -1;
    for (int i = 0; i <= s.length; i++) {
      if (i == s.length || s[i] == tok.eosId()) {
        if (from >= 0 && i > from + 1) {
          docs.add(tok.decode(Arrays.copyOfRange(s, from + 1, i)));
        }
        from = i;
      }
    }
    return docs;
  }
}
