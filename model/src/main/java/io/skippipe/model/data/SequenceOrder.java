package io.skippipe.model.data;

/**
 * The order in which a data node draws the packed sequences of its shard: a pure function of the
 * seed, a stream id (the data node), the shard size and the draw index, so a run that resumes at
 * iteration {@code i} reads exactly what an uninterrupted run reads there, and no cursor needs to
 * be stored.
 *
 * <p>Draw {@code g} (0, 1, 2, ...) is in epoch {@code e = g div n} at position {@code r = g mod n};
 * it reads sequence {@code π_e(r)}, where {@code π_e} is a pseudo-random permutation of
 * {@code [0, n)} keyed by (seed, stream, e). So every epoch visits every sequence exactly once, and
 * each epoch has its own order.
 *
 * <p>{@code π_e} is a balanced Feistel network (Luby and Rackoff 1988) on the smallest domain of
 * {@code 4^h ≥ n} values, brought down to {@code [0, n)} by cycle walking (Black and Rogaway 2002,
 * "Ciphers with Arbitrary Finite Domains", §3): apply the network until the value falls inside the
 * domain; as {@code 4^h < 4n}, this takes fewer than four rounds of the network on average. It needs
 * O(1) memory whatever {@code n} is, unlike a shuffled index array. The round function is
 * SplitMix64's finaliser (Steele, Lea and Flood 2014), the mixer of {@link java.util.SplittableRandom}.
 *
 * @param seed the run's seed ({@code spark.skippipe.seed})
 * @param stream which stream of draws (the data node); different streams have different orders
 * @param size number of sequences {@code n}, at least 1
 */
public record SequenceOrder(long seed, long stream, long size) {
  private static final int ROUNDS = 6;

  public SequenceOrder {
    if (size < 1) {
      throw new IllegalArgumentException("a sequence order needs at least one sequence, got "
          + size + "; prepare more text");
    }
  }

  /** Sequence index read by draw {@code draw} (≥ 0), in {@code [0, size)}. */
  public long sequence(long draw) {
    if (draw < 0) {
      throw new IllegalArgumentException("draw index " + draw + " must be non-negative");
    }
    long epoch = draw / size;
    long r = draw % size;
    if (size == 1) {
      return 0;
    }
    int halfBits = Math.max(1, (64 - Long.numberOfLeadingZeros(size - 1) + 1) / 2);
    long key = mix(mix(seed) ^ mix(stream + 0x632BE59BD9B4E019L) ^ mix(epoch - 0x61C8864680B583EBL));
    long x = r;
    do {
      x = feistel(x, key, halfBits);
    } while (x >= size);
    return x;
  }

  private static long feistel(long x, long key, int halfBits) {
    long mask = (1L << halfBits) - 1;
    long left = x >>> halfBits;
    long right = x & mask;
    for (int round = 0; round < ROUNDS; round++) {
      long f = mix(key ^ (round * 0x9E3779B97F4A7C15L) ^ right) & mask;
      long next = left ^ f;
      left = right;
      right = next;
    }
    return (left << halfBits) | right;
  }

  /** SplitMix64's finaliser (variant 13 of Stafford's mixers). */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
