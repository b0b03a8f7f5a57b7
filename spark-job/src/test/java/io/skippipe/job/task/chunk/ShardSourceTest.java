package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.data.ShardFiles;
import io.skippipe.model.data.PackedDataset;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data node's microbatches: a pure function of (iteration, microbatch), the shard and the seed,
 * read through seekable streams across the node's part files.
 */
class ShardSourceTest {
  static final int SEQ = 3;
  @TempDir Path tmp;

  /** Part files of 7 and 4 sequences (and a name order that is not creation order). */
  Path shard() throws IOException {
    Path dir = tmp.resolve("node-3");
    Files.createDirectories(dir);
    write(dir.resolve("part-00010.bin"), 7, 100);
    write(dir.resolve("part-00002.bin"), 4, 0);
    return dir;
  }

  /** {@code n} sequences whose ids are all {@code first + i} for sequence i. */
  static void write(Path f, int n, int first) throws IOException {
    int[] ids = new int[n * (SEQ + 1)];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = first + i / (SEQ + 1);
    }
    try (OutputStream o = Files.newOutputStream(f)) {
      new PackedDataset(SEQ, ids).writeTo(o);
    }
  }

  ShardSource source(long seed) throws IOException {
    return ShardSource.open(shard().toString(), new Configuration(), SEQ, List.of(4, 9), 2, seed,
        3);
  }

  @Test
  void readsPartFilesInNameOrderAsOneShard() throws IOException {
    ShardFiles f = ShardFiles.open(shard().toString(), new Configuration(), SEQ);
    assertEquals(11, f.size());
    int[] out = new int[3 * (SEQ + 1)];
    f.read(new long[] {10, 0, 4}, out);
    assertArrayEquals(new int[] {106, 106, 106, 106, 0, 0, 0, 0, 100, 100, 100, 100}, out);
  }

  @Test
  void eachEpochVisitsEverySequenceOnceAndTheSeedDecidesTheOrder() throws IOException {
    ShardSource a = source(5);
    // 11 sequences, 2 microbatches x 2 samples per iteration: draws 0..43 are 4 epochs
    Set<Integer> epoch0 = new HashSet<>();
    int[] draws = new int[44];
    int d = 0;
    for (int it = 0; it < 11; it++) {
      for (int mb : List.of(4, 9)) {
        int[] t = a.tokens(it, mb);
        assertEquals(2 * (SEQ + 1), t.length);
        draws[d++] = t[0];
        draws[d++] = t[SEQ + 1];
      }
    }
    for (int i = 0; i < 11; i++) {
      assertTrue(epoch0.add(draws[i]), "repeated within epoch 0: " + Arrays.toString(draws));
    }
    assertFalse(Arrays.equals(Arrays.copyOfRange(draws, 0, 11), Arrays.copyOfRange(draws, 11, 22)),
        "each epoch has its own order");
    // pure function: a fresh source (a resumed run) reads the same at any iteration
    ShardSource resumed = source(5);
    assertArrayEquals(a.tokens(7, 9), resumed.tokens(7, 9));
    assertArrayEquals(a.tokens(0, 4), resumed.tokens(0, 4));
    // another seed, another order
    assertFalse(Arrays.equals(a.sequences(0, 4), source(6).sequences(0, 4))
        && Arrays.equals(a.sequences(0, 9), source(6).sequences(0, 9)));
    assertThrows(IllegalStateException.class, () -> a.tokens(0, 5));
  }

  @Test
  void aTruncatedOrForeignShardIsAClearError() throws IOException {
    Path dir = shard();
    String m = assertThrows(IllegalArgumentException.class,
        () -> ShardFiles.open(dir.toString(), new Configuration(), SEQ + 1)).getMessage();
    assertTrue(m.contains("seqLen 3") && m.contains("prepare the data again"), m);
    byte[] b = Files.readAllBytes(dir.resolve("part-00002.bin"));
    Files.write(dir.resolve("part-00002.bin"), Arrays.copyOf(b, b.length - 5));
    m = assertThrows(IllegalArgumentException.class,
        () -> ShardFiles.open(dir.toString(), new Configuration(), SEQ)).getMessage();
    assertTrue(m.contains("part-00002.bin is truncated"), m);
    Path empty = tmp.resolve("empty");
    Files.createDirectories(empty);
    m = assertThrows(IllegalArgumentException.class,
        () -> ShardFiles.open(empty.toString(), new Configuration(), SEQ)).getMessage();
    assertTrue(m.contains("holds no sequence"), m);
  }
}
