package io.skippipe.model.data;

import java.io.IOException;

/**
 * Packs a stream of token ids into fixed-length training sequences with bounded memory (one
 * sequence buffer): sequence {@code k} is {@code stream[k·T .. k·T + T]} ({@code T+1} ids, T =
 * {@code seqLen}), so neighbours share one id and every id after the first is a prediction target
 * exactly once. The caller puts the separator (the end-of-text id) before every document and after
 * the last one ({@link #separator}); an incomplete last sequence is dropped.
 */
public final class SequencePacker {
  /** Receives each complete sequence; the array is reused, copy what is kept. */
  public interface Sink {
    void sequence(int[] ids) throws IOException;
  }

  private final int eosId;
  private final Sink sink;
  private final int[] buf;
  private int n;
  private long sequences;
  private long ids;

  /** A packer of sequences of {@code seqLen + 1} ids. */
  public SequencePacker(int seqLen, int eosId, Sink sink) {
    if (seqLen <= 0) {
      throw new IllegalArgumentException("seqLen " + seqLen + " must be positive");
    }
    this.eosId = eosId;
    this.sink = sink;
    this.buf = new int[seqLen + 1];
  }

  /** Appends the separator id (before a document, and after the last one). */
  public void separator() throws IOException {
    add(eosId);
  }

  /** Appends {@code len} ids of {@code a} from {@code off}. */
  public void add(int[] a, int off, int len) throws IOException {
    for (int i = off; i < off + len; i++) {
      add(a[i]);
    }
  }

  /** Appends all of {@code a}. */
  public void add(int[] a) throws IOException {
    add(a, 0, a.length);
  }

  private void add(int id) throws IOException {
    buf[n++] = id;
    ids++;
    if (n == buf.length) {
      sink.sequence(buf);
      sequences++;
      buf[0] = buf[n - 1];
      n = 1;
    }
  }

  /** Complete sequences emitted so far. */
  public long sequences() {
    return sequences;
  }

  /** Ids appended so far, separators included. */
  public long ids() {
    return ids;
  }
}
