package io.skippipe.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
    assertEquals(a, PackedDataset.readFrom(new ByteArrayInputStream(out.toByteArray()), "mem"));
    byte[] cut = Arrays.copyOf(out.toByteArray(), out.size() - 3);
    String m = assertThrows(IllegalArgumentException.class,
        () -> PackedDataset.readFrom(new ByteArrayInputStream(cut), "shard-0.bin")).getMessage();
    assertTrue(m.contains("shard-0.bin") && m.contains("truncated"), m);
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
  void readerCoversAnEpochAndItsCursorRestoresTheExactStream() {
    PackedDataset data = numbered(10, 3);
    assertEquals(10, data.size());
    MicrobatchReader r = new MicrobatchReader(data, 3, 42);
    Set<String> seen = new HashSet<>();
    for (int k = 0; k < 3; k++) {
      TokenBatch b = r.next();
      assertEquals(3, b.batchSize());
      for (int s = 0; s < 3; s++) {
        assertTrue(seen.add(Arrays.toString(b.sequence(s))), "sequence repeated within an epoch");
      }
    }
    assertEquals(new DataCursor(42, 0, 9), r.cursor());
    DataCursor saved = r.cursor();
    List<TokenBatch> expected = new ArrayList<>();
    for (int k = 0; k < 7; k++) {
      expected.add(r.next());
    }
    assertEquals(3, r.cursor().epoch());
    MicrobatchReader resumed = new MicrobatchReader(data, 3, 42);
    resumed.seek(DataCursor.parse(saved.toString()));
    for (TokenBatch e : expected) {
      assertEquals(e, resumed.next());
    }
    // Another seed gives another order; the same seed the same.
    assertNotEquals(new MicrobatchReader(data, 3, 1).next(), new MicrobatchReader(data, 3, 2).next());
    assertEquals(new MicrobatchReader(data, 3, 7).next(), new MicrobatchReader(data, 3, 7).next());
    String m = assertThrows(IllegalArgumentException.class,
        () -> new MicrobatchReader(data, 3, 1).seek(saved)).getMessage();
    assertTrue(m.contains("seed 42"), m);
  }

  @Test
  void batchInputsAndTargetsAreShiftedByOne() {
    TokenBatch b = new TokenBatch(2, 3, new int[] {1, 2, 3, 4, 5, 6, 7, 8});
    assertArrayEquals(new int[] {1, 2, 3, 5, 6, 7}, b.inputs());
    assertArrayEquals(new int[] {2, 3, 4, 6, 7, 8}, b.targets());
  }

  @Test
  void shardsPartitionTheSequences() {
    PackedDataset data = numbered(10, 3);
    PackedDataset s0 = data.shard(0, 3);
    PackedDataset s2 = data.shard(2, 3);
    assertEquals(4, s0.size());
    assertEquals(3, s2.size());
    assertArrayEquals(data.sequence(3), s0.sequence(1));
    assertArrayEquals(data.sequence(8), s2.sequence(2));
    assertThrows(IllegalArgumentException.class, () -> data.shard(3, 3));
  }
}
