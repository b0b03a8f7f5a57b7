package io.skippipe.model.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * Token sequences packed to a fixed length, in memory. {@link #pack} concatenates the documents'
 * ids into one stream with the EOS id before every document and after the last one (so the model
 * always sees where a document starts) and cuts it with a {@link SequencePacker}: sequence {@code
 * i} is {@code stream[i·seqLen .. i·seqLen + seqLen]}, the tail that does not fill a sequence is
 * dropped. Packing depends only on the ids, so it is deterministic.
 *
 * <p>File format (a packed token file, also each part file of a data node's shard): a 16-byte
 * header of four little-endian int32 — magic {@code "SKPT"} ({@value #MAGIC}), version
 * {@value #VERSION}, {@code seqLen}, 0 (reserved) — then the sequences back to back, each
 * {@code seqLen + 1} little-endian int32 ids. The sequence count is {@code (length − 16) /
 * (4·(seqLen + 1))}, so a writer can stream sequences without knowing their number in advance; a
 * length that does not divide is a truncated file.
 *
 * @param seqLen positions T per sequence
 * @param sequences the sequences back to back, {@code size()·(seqLen + 1)} ids
 */
public record PackedDataset(int seqLen, int[] sequences) {
  /** "SKPT" read as a little-endian int32. */
  public static final int MAGIC = 0x534b5054;
  /** Version 2: no id count in the header (streamed writes). */
  public static final int VERSION = 2;
  /** Length of the file header. */
  public static final int HEADER_BYTES = 16;

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
    IntBuffer out = new IntBuffer();
    SequencePacker packer = new SequencePacker(seqLen, eosId, ids -> out.add(ids));
    try {
      for (int[] d : documents) {
        packer.separator();
        packer.add(d);
      }
      packer.separator();
    } catch (IOException e) {
      throw new IllegalStateException(e); // the in-memory sink does not throw
    }
    if (packer.sequences() < 1) {
      throw new IllegalArgumentException("the documents hold " + packer.ids() + " ids with"
          + " separators, fewer than one sequence of seqLen+1 = " + (seqLen + 1) + "; give more"
          + " text or a shorter seqLen");
    }
    return new PackedDataset(seqLen, out.toArray());
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

  /** Writes the dataset in the packed token file format (class comment). */
  public void writeTo(OutputStream out) throws IOException {
    out.write(header(seqLen));
    ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < sequences.length; i += buf.capacity() / 4) {
      int n = Math.min(buf.capacity() / 4, sequences.length - i);
      buf.clear();
      buf.asIntBuffer().put(sequences, i, n);
      out.write(buf.array(), 0, 4 * n);
    }
    out.flush();
  }

  /** Reads a whole packed token file; a foreign or cut file is a clear error. */
  public static PackedDataset readFrom(InputStream in, String source) throws IOException {
    byte[] all = in.readAllBytes();
    if (all.length < HEADER_BYTES) {
      throw new IllegalArgumentException(source + " is truncated (" + all.length + " bytes, the"
          + " header alone has " + HEADER_BYTES + "); prepare the data again");
    }
    int seqLen = checkHeader(all, source);
    long count = sequenceCount(all.length, seqLen, source);
    int[] s = new int[Math.toIntExact(count * (seqLen + 1))];
    ByteBuffer.wrap(all, HEADER_BYTES, all.length - HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
        .asIntBuffer().get(s);
    return new PackedDataset(seqLen, s);
  }

  /** The 16 header bytes of a packed token file of sequences of {@code seqLen + 1} ids. */
  public static byte[] header(int seqLen) {
    return ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC)
        .putInt(VERSION).putInt(seqLen).putInt(0).array();
  }

  /** Checks the first 16 bytes of {@code head}; returns the file's seqLen. */
  public static int checkHeader(byte[] head, String source) {
    ByteBuffer h = ByteBuffer.wrap(head, 0, HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    int magic = h.getInt();
    int version = h.getInt();
    int seqLen = h.getInt();
    if (magic != MAGIC || version != VERSION || seqLen <= 0) {
      throw new IllegalArgumentException(source + " is not a packed token file of version "
          + VERSION + " (magic " + Integer.toHexString(magic) + ", version " + version
          + ", seqLen " + seqLen + "); prepare the data again with this version");
    }
    return seqLen;
  }

  /** Sequences in a packed token file of {@code fileBytes} bytes; a cut file is a clear error. */
  public static long sequenceCount(long fileBytes, int seqLen, String source) {
    long row = 4L * (seqLen + 1);
    long body = fileBytes - HEADER_BYTES;
    if (body < 0 || body % row != 0) {
      throw new IllegalArgumentException(source + " is truncated: " + fileBytes + " bytes is not"
          + " the " + HEADER_BYTES + "-byte header plus whole sequences of " + row + " bytes;"
          + " prepare the data again");
    }
    return body / row;
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

  /** A growable int array. */
  private static final class IntBuffer {
    private int[] a = new int[1024];
    private int n;

    void add(int[] ids) {
      if (n + ids.length > a.length) {
        a = Arrays.copyOf(a, Math.max(2 * a.length, n + ids.length));
      }
      System.arraycopy(ids, 0, a, n, ids.length);
      n += ids.length;
    }

    int[] toArray() {
      return Arrays.copyOf(a, n);
    }
  }
}
