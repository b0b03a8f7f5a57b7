package io.skippipe.job.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader on its own (no Spark, no tokenizer): whatever the split size, down to one byte, the
 * splits of a file together read exactly the documents one split reads — with CRLF line breaks,
 * blank and whitespace-only lines, multi-byte characters cut by split and buffer boundaries, a
 * byte-order mark and lines longer than the read buffer.
 */
class DocumentReaderTest {
  @TempDir Path tmp;

  /** Collects documents as strings; a document continued by the next split is joined to it. */
  static final class Collect implements DocumentReader.Documents {
    final List<String> docs = new ArrayList<>();
    StringBuilder cur;

    @Override
    public void begin(boolean newDocument) {
      if (newDocument || docs.isEmpty() && cur == null) {
        cur = new StringBuilder();
      } else if (cur == null) {
        cur = new StringBuilder(docs.remove(docs.size() - 1));
      }
    }

    @Override
    public void text(char[] c, int off, int len) {
      cur.append(c, off, len);
    }

    @Override
    public void end(boolean documentEnds) {
      docs.add(cur.toString());
      cur = null;
    }
  }

  /** Random text; with {@code longLine}, line 30 is longer than the 64 KiB read buffer. */
  static String text(long seed, boolean longLine) {
    Random r = new Random(seed);
    String[] pieces = {"word", " ", "é", "東京", "\uD83D\uDE80", "\t", "  ", ".", "<|endoftext|>"};
    String[] breaks = {"\n", "\n", "\n", "\r\n", "\n\n", "\r\n\r\n", "\n \n", "\n\n\n"};
    StringBuilder b = new StringBuilder("\uFEFF");
    for (int line = 0; line < 60; line++) {
      int n = line == 30 && longLine ? 40_000 : r.nextInt(0, 12);
      for (int i = 0; i < n; i++) {
        b.append(pieces[r.nextInt(pieces.length)]);
      }
      b.append(breaks[r.nextInt(breaks.length)]);
    }
    return b.append("last line without a break").toString();
  }

  List<String> read(Path file, String format, String mode, long splitBytes) throws IOException {
    InputFiles.SourceFile f = new InputFiles.SourceFile(file.toUri().toString(),
        Files.size(file), 0, false);
    Collect c = new Collect();
    DocumentReader reader = new DocumentReader(format, mode, "text", 1 << 20,
        new Configuration());
    for (InputFiles.Split s : InputFiles.splits(List.of(f), splitBytes)) {
      reader.read(s, c);
    }
    return c.docs;
  }

  @Test
  void everySplitSizeReadsTheSameDocuments() throws IOException {
    for (long seed : new long[] {1, 2, 3}) {
      // every split size on short text; sizes around the read buffer on text with a long line
      boolean longLine = seed == 3;
      String t = text(seed, longLine);
      Path file = tmp.resolve("t" + seed + ".txt");
      Files.writeString(file, t);
      long len = Files.size(file);
      for (String mode : List.of("line", "paragraph", "file")) {
        List<String> whole = read(file, "text", mode, len + 1);
        long[] sizes = longLine ? new long[] {1000, 65_536, 65_537}
            : new long[] {1, 2, 3, 5, 7, 13, 64, 1000};
        for (long size : sizes) {
          assertEquals(whole, read(file, "text", mode, size), mode + " split " + size);
        }
        if (mode.equals("file")) {
          assertEquals(List.of(t.substring(1)), whole, "file: verbatim, without the BOM");
        }
      }
      // what each mode means, on this text
      String body = t.substring(1).replace("\r\n", "\n");
      List<String> lines = new ArrayList<>();
      for (String l : body.split("\n")) {
        if (!l.isBlank()) {
          lines.add(l);
        }
      }
      assertEquals(lines, read(file, "text", "line", len + 1));
      List<String> paragraphs = new ArrayList<>();
      for (String p : body.split("\n\n+")) {
        String q = p.replaceAll("^\n+|\n+$", "");
        if (!q.isBlank()) {
          paragraphs.add(q);
        }
      }
      assertEquals(paragraphs, read(file, "text", "paragraph", len + 1));
    }
  }

  @Test
  void jsonLinesSplitAnywhereReadEachRecordOnce() throws IOException {
    StringBuilder b = new StringBuilder();
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      String s = "record " + i + " é東\\n" + "x".repeat(i * 7);
      b.append("{\"id\": ").append(i).append(", \"text\": \"").append(s).append("\"}")
          .append(i % 4 == 0 ? "\r\n" : "\n");
      expected.add(s.replace("\\n", "\n"));
    }
    Path file = tmp.resolve("r.jsonl");
    Files.writeString(file, b.toString());
    for (long size : new long[] {1, 3, 17, 100, 1 << 20}) {
      assertEquals(expected, read(file, "jsonl", "line", size), "split " + size);
    }
  }

  @Test
  void malformedUtf8IsReplacedAndCounted() throws IOException {
    byte[] good = "ok line\n".getBytes(StandardCharsets.UTF_8);
    byte[] bad = {'a', (byte) 0xC3, 'b', (byte) 0xFF, (byte) 0xE6, (byte) 0x9D, '\n'};
    Path file = tmp.resolve("bad.txt");
    Files.write(file, concat(good, bad, good));
    InputFiles.SourceFile f = new InputFiles.SourceFile(file.toUri().toString(),
        Files.size(file), 0, false);
    Collect c = new Collect();
    DocumentReader r = new DocumentReader("text", "line", "text", 1 << 20, new Configuration());
    r.read(InputFiles.splits(List.of(f), 1 << 20).get(0), c);
    assertEquals(List.of("ok line", "a\uFFFDb\uFFFD\uFFFD", "ok line"), c.docs);
    assertEquals(4, r.counts().replacedBytes);
    assertEquals(3, r.counts().nonTextChars);
    assertTrue(r.counts().chars > 0);
  }

  static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] out = new byte[n];
    n = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, n, p.length);
      n += p.length;
    }
    return out;
  }
}
