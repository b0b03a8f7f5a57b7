package io.skippipe.model.data;

/**
 * Reads microbatches of {@code batchSize} sequences from an in-memory {@link PackedDataset} in the
 * order of a {@link SequenceOrder}: the k-th microbatch takes draws {@code k·B .. k·B + B − 1}, so
 * each epoch visits every sequence once, in an order decided by the seed.
 */
public final class MicrobatchReader {
  private final PackedDataset data;
  private final int batchSize;
  private final SequenceOrder order;
  private long draws;

  /** A reader at the first draw. */
  public MicrobatchReader(PackedDataset data, int batchSize, long seed) {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batchSize " + batchSize + " must be positive");
    }
    this.data = data;
    this.batchSize = batchSize;
    this.order = new SequenceOrder(seed, 0, data.size());
  }

  /** The next microbatch: {@code B·(seqLen+1)} ids, row-major. */
  public int[] next() {
    int t1 = data.seqLen() + 1;
    int[] tokens = new int[batchSize * t1];
    for (int b = 0; b < batchSize; b++) {
      data.copySequence((int) order.sequence(draws++), tokens, b * t1);
    }
    return tokens;
  }

  /** Sequences per microbatch. */
  public int batchSize() {
    return batchSize;
  }
}
