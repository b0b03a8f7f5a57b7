package io.skippipe.model.data;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * Token sequences packed to a fixed length. {@link #pack} concatenates the documents' ids into one
 * stream with the EOS id before every document and after the last one (so the model always sees
 * where a document starts) and cuts it into sequences of {@code seqLen + 1} ids: sequence {@code i}
 * is {@code stream[i·seqLen .. i·seqLen + seqLen]}, so neighbours share one id and every id after
 * the first is a prediction target exactly once. The tail that does not fill a sequence is
 * dropped. Packing depends only on the ids, so it is deterministic.
 *
 * @param seqLen positions T per sequence
 * @param sequences the sequences back to back, {@code size()·(seqLen + 1)} ids
 */
public record PackedDataset(int seqLen, int[] sequences) {
  static final int MAGIC = 0x534b5054; // "SKPT"
  static final int VERSION = 1;

  public PackedDataset {
    if (seqLen <= 0) {
      throw new IllegalArgumentException("seqLen " + seqLen + " must be positive");
    }
    if (sequences.length < seqLen + 1 || sequences.length % (seqLen + 1) != 0) {
      throw new IllegalArgumentException("packed sequences of seqLen " + seqLen + " hold n·"
          + (seqLen + 1) + " ids (n >= 1); got " + sequences.length);
    }
  }

  /** Packs documents' ids (see the class comment). Fails if they make not even one sequence. */
  public static PackedDataset pack(List<int[]> documents, int eosId, int seqLen) {
    if (seqLen <= 0) {
      throw new IllegalArgumentException("seqLen " + seqLen + " must be positive");
    }
    long total = 1;
    for (int[] d : documents) {
      total += d.length + 1;
    }
    int count = (int) Math.min(Integer.MAX_VALUE / 2, (total - 1) / seqLen);
    if (count < 1) {
      throw new IllegalArgumentException("the documents hold " + total + " ids with separators,"
          + " fewer than one sequence of seqLen+1 = " + (seqLen + 1) + "; give more text or a"
          + " shorter seqLen");
    }
    int[] s = new int[count * seqLen + 1];
    int n = 0;
    s[n++] = eosId;
    outer:
    for (int[] d : documents) {
      for (int id : d) {
        if (n == s.length) {
          break outer;
        }
        s[n++] = id;
      }
      if (n == s.length) {
        break;
      }
      s[n++] = eosId;
    }
    int[] seqs = new int[count * (seqLen + 1)];
    for (int i = 0; i < count; i++) {
      System.arraycopy(s, i * seqLen, seqs, i * (seqLen + 1), seqLen + 1);
    }
    return new PackedDataset(seqLen, seqs);
  }

  /** Tokenizes and packs documents. */
  public static PackedDataset of(TextTokenizer tokenizer, List<String> documents, int seqLen) {
    return pack(tokenizer.encodeAll(documents), tokenizer.eosId(), seqLen);
  }

  /** Number of sequences. */
  public int size() {
    return sequences.length / (seqLen + 1);
  }

  /** Sequence {@code i}: seqLen+1 ids. */
  public int[] sequence(int i) {
    if (i < 0 || i >= size()) {
      throw new IndexOutOfBoundsException("sequence " + i + " of " + size());
    }
    return Arrays.copyOfRange(sequences, i * (seqLen + 1), (i + 1) * (seqLen + 1));
  }

  /** Copies sequence {@code i} into {@code dst} at {@code offset}. */
  void copySequence(int i, int[] dst, int offset) {
    System.arraycopy(sequences, i * (seqLen + 1), dst, offset, seqLen + 1);
  }

  /**
   * The sequences {@code i} with {@code i % count == index} (one data node's shard when the
   * runtime spreads the data over {@code count} data nodes).
   */
  public PackedDataset shard(int index, int count) {
    if (count <= 0 || index < 0 || index >= count || count > size()) {
      throw new IllegalArgumentException("shard " + index + " of " + count + " is invalid for "
          + size() + " sequences; need 0 <= index < count <= sequences");
    }
    int n = (size() - index + count - 1) / count;
    int[] s = new int[n * (seqLen + 1)];
    for (int k = 0; k < n; k++) {
      copySequence(index + k * count, s, k * (seqLen + 1));
    }
    return new PackedDataset(seqLen, s);
  }

  /** Writes the dataset: magic, version, seqLen, id count, the ids (all int32 little-endian). */
  public void writeTo(OutputStream out) throws IOException {
    DataOutputStream d = new DataOutputStream(out);
    ByteBuffer head = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    head.putInt(MAGIC).putInt(VERSION).putInt(seqLen).putInt(sequences.length);
    d.write(head.array());
    ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < sequences.length; i += buf.capacity() / 4) {
      int n = Math.min(buf.capacity() / 4, sequences.length - i);
      buf.clear();
      buf.asIntBuffer().put(sequences, i, n);
      d.write(buf.array(), 0, 4 * n);
    }
    d.flush();
  }

  /** Reads a dataset written by {@link #writeTo}; a foreign or cut file is a clear error. */
  public static PackedDataset readFrom(InputStream in, String source) throws IOException {
    DataInputStream d = new DataInputStream(in);
    byte[] h = new byte[16];
    try {
      d.readFully(h);
      ByteBuffer head = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
      int magic = head.getInt();
      int version = head.getInt();
      if (magic != MAGIC || version != VERSION) {
        throw new IllegalArgumentException(source + " is not a packed token file of version "
            + VERSION + " (magic " + Integer.toHexString(magic) + ", version " + version
            + "); prepare the data again with this version");
      }
      int seqLen = head.getInt();
      int n = head.getInt();
      if (n < 0) {
        throw new IllegalArgumentException(source + " declares " + n + " ids; it is corrupt");
      }
      byte[] b = new byte[4 * n];
      d.readFully(b);
      int[] s = new int[n];
      ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(s);
      return new PackedDataset(seqLen, s);
    } catch (java.io.EOFException e) {
      throw new IllegalArgumentException(source + " is truncated; prepare the data again", e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PackedDataset p && p.seqLen == seqLen
        && Arrays.equals(p.sequences, sequences);
  }

  @Override
  public int hashCode() {
    return 31 * seqLen + Arrays.hashCode(sequences);
  }

  @Override
  public String toString() {
    return "PackedDataset[" + size() + " sequences of " + (seqLen + 1) + "]";
  }
}
