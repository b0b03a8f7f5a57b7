package io.skippipe.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PackingTest {
  static final int EOS = 0;

  @Test
  void packsDocumentsWithSeparatorsIntoOverlappingSequences() {
    List<int[]> docs = List.of(new int[] {1, 2, 3}, new int[] {4, 5}, new int[] {6, 7, 8, 9});
    // stream: 0 1 2 3 0 4 5 0 6 7 8 9 0  (13 ids) -> seqLen 4: 3 sequences (12 + 1 ids)
    PackedDataset p = PackedDataset.pack(docs, EOS, 4);
    assertEquals(3, p.size());
    assertArrayEquals(new int[] {0, 1, 2, 3, 0}, p.sequence(0));
    assertArrayEquals(new int[] {0, 4, 5, 0, 6}, p.sequence(1));
    assertArrayEquals(new int[] {6, 7, 8, 9, 0}, p.sequence(2));
    // seqLen 5: 2 sequences; the tail "8 9 0" is dropped
    PackedDataset q = PackedDataset.pack(docs, EOS, 5);
    assertEquals(2, q.size());
    assertArrayEquals(new int[] {4, 5, 0, 6, 7, 8}, q.sequence(1));
    String m = assertThrows(IllegalArgumentException.class,
        () -> PackedDataset.pack(List.of(new int[] {1}), EOS, 8)).getMessage();
    assertTrue(m.contains("fewer than one sequence"), m);
  }

  /** The streaming packer, fed in arbitrary slices, cuts exactly what a naive cut of the stream does. */
  @Test
  void streamingPackerEqualsANaiveCutOfTheWholeStream() throws IOException {
    SplittableRandom r = new SplittableRandom(3);
    List<Integer> stream = new ArrayList<>();
    List<int[]> got = new ArrayList<>();
    int seqLen = 7;
    SequencePacker packer = new SequencePacker(seqLen, EOS, ids -> got.add(ids.clone()));
    for (int d = 0; d < 40; d++) {
      packer.separator();
      stream.add(EOS);
      int[] doc = r.ints(r.nextInt(0, 30), 1, 50).toArray();
      int from = 0;
      while (from < doc.length) { // in random slices, as pieces of a long document arrive
        int n = r.nextInt(1, doc.length - from + 1);
        packer.add(doc, from, n);
        from += n;
      }
      Arrays.stream(doc).forEach(stream::add);
    }
    int count = (stream.size() - 1) / seqLen;
    assertEquals(count, packer.sequences());
    assertEquals(stream.size(), packer.ids());
    for (int i = 0; i < count; i++) {
      int[] expected = stream.subList(i * seqLen, i * seqLen + seqLen + 1).stream()
          .mapToInt(Integer::intValue).toArray();
      assertArrayEquals(expected, got.get(i), "sequence " + i);
    }
  }

  @Test
  void packingTheBundledCorpusIsDeterministicAndRoundTripsThroughItsFile() throws IOException {
    List<String> docs = Corpus.validationDocuments();
    PackedDataset a;
    PackedDataset b;
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      a = PackedDataset.of(tok, docs, 64);
    }
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      b = PackedDataset.of(tok, docs, 64);
    }
    assertEquals(a, b);
    assertTrue(a.size() > 1000, "validation sequences " + a.size());
    assertEquals(EOS, a.sequence(0)[0]);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    a.writeTo(out);
    assertEquals(PackedDataset.HEADER_BYTES + 4L * a.sequences().length, out.size());
    assertEquals(a, PackedDataset.readFrom(new ByteArrayInputStream(out.toByteArray()), "mem"));
    byte[] cut = Arrays.copyOf(out.toByteArray(), out.size() - 3);
    String m = assertThrows(IllegalArgumentException.class,
        () -> PackedDataset.readFrom(new ByteArrayInputStream(cut), "shard-0.bin")).getMessage();
    assertTrue(m.contains("shard-0.bin") && m.contains("truncated"), m);
    byte[] foreign = out.toByteArray();
    foreign[0] ^= 1;
    m = assertThrows(IllegalArgumentException.class,
        () -> PackedDataset.readFrom(new ByteArrayInputStream(foreign), "x.bin")).getMessage();
    assertTrue(m.contains("not a packed token file"), m);
  }

  static PackedDataset numbered(int n, int seqLen) {
    List<int[]> docs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int[] d = new int[seqLen];
      Arrays.fill(d, i + 1);
      docs.add(d);
    }
    return PackedDataset.pack(docs, EOS, seqLen + 1);
  }

  @Test
  void readerVisitsEverySequenceOncePerEpochInASeededOrder() {
    PackedDataset data = numbered(12, 3);
    assertEquals(12, data.size());
    MicrobatchReader r = new MicrobatchReader(data, 3, 42);
    int t1 = data.seqLen() + 1;
    Set<String> seen = new HashSet<>();
    for (int k = 0; k < 4; k++) { // 4 x 3 = one epoch
      int[] b = r.next();
      assertEquals(3 * t1, b.length);
      for (int s = 0; s < 3; s++) {
        assertTrue(seen.add(Arrays.toString(Arrays.copyOfRange(b, s * t1, s * t1 + t1))),
            "sequence repeated within an epoch");
      }
    }
    assertEquals(12, seen.size());
    // Another seed gives another order; the same seed the same.
    assertFalse(Arrays.equals(new MicrobatchReader(data, 6, 1).next(),
        new MicrobatchReader(data, 6, 2).next()));
    assertArrayEquals(new MicrobatchReader(data, 6, 7).next(),
        new MicrobatchReader(data, 6, 7).next());
  }
}
