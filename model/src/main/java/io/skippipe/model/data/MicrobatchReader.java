package io.skippipe.model.data;

import java.util.SplittableRandom;

/**
 * Reads microbatches of {@code batchSize} sequences from a {@link PackedDataset}: each epoch visits
 * every sequence once in an order shuffled by a seeded {@link SplittableRandom} (seed and epoch
 * decide it), a batch takes the next {@code batchSize} sequences of that order, and the sequences
 * left over at an epoch's end (fewer than a batch) are skipped. The {@link DataCursor} says where
 * it stands; {@link #seek} goes back there, so reading is reproducible across restarts.
 */
public final class MicrobatchReader {
  private final PackedDataset data;
  private final int batchSize;
  private final long seed;
  private long epoch;
  private long position;
  private int[] order;

  /** A reader at the start of epoch 0. */
  public MicrobatchReader(PackedDataset data, int batchSize, long seed) {
    if (batchSize <= 0 || batchSize > data.size()) {
      throw new IllegalArgumentException("batchSize " + batchSize + " must be in [1, "
          + data.size() + "] (the sequences available); give more data or a smaller batch");
    }
    this.data = data;
    this.batchSize = batchSize;
    this.seed = seed;
    this.order = permutation(0);
  }

  /** The next microbatch. */
  public TokenBatch next() {
    if (position + batchSize > data.size()) {
      epoch++;
      position = 0;
      order = permutation(epoch);
    }
    int[] tokens = new int[batchSize * (data.seqLen() + 1)];
    for (int b = 0; b < batchSize; b++) {
      data.copySequence(order[(int) position + b], tokens, b * (data.seqLen() + 1));
    }
    position += batchSize;
    return new TokenBatch(batchSize, data.seqLen(), tokens);
  }

  /** Where the reader stands now. */
  public DataCursor cursor() {
    return new DataCursor(seed, epoch, position);
  }

  /** Goes to a cursor taken from a reader of the same data, batch size and seed. */
  public void seek(DataCursor c) {
    if (c.seed() != seed) {
      throw new IllegalArgumentException("data cursor " + c + " was taken with seed " + c.seed()
          + " but this reader shuffles with seed " + seed + "; resume with the original seed");
    }
    if (c.position() > data.size()) {
      throw new IllegalArgumentException("data cursor " + c + " points past the " + data.size()
          + " sequences of this data; resume with the data the checkpoint was taken on");
    }
    if (c.epoch() != epoch) {
      order = permutation(c.epoch());
    }
    epoch = c.epoch();
    position = c.position();
  }

  /** Sequences per microbatch. */
  public int batchSize() {
    return batchSize;
  }

  /** The data read. */
  public PackedDataset data() {
    return data;
  }

  private int[] permutation(long e) {
    int n = data.size();
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e);
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
