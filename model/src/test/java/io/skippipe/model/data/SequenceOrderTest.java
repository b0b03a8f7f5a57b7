package io.skippipe.model.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

class SequenceOrderTest {
  /** Each epoch is a permutation of [0, n): checked exhaustively, small and large n. */
  @Test
  void everyEpochVisitsEverySequenceExactlyOnce() {
    for (long n : new long[] {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 100, 255, 256, 257, 1000, 4097,
        1_000_003}) {
      for (long seed : new long[] {0, 5, -9}) {
        SequenceOrder o = new SequenceOrder(seed, 3, n);
        for (long epoch : new long[] {0, 1, 7}) {
          BitSet seen = new BitSet();
          for (long r = 0; r < n; r++) {
            long s = o.sequence(epoch * n + r);
            assertTrue(s >= 0 && s < n, "n=" + n + " draw gave " + s);
            assertFalse(seen.get((int) s), "n=" + n + " sequence " + s + " drawn twice");
            seen.set((int) s);
          }
          assertEquals(n, seen.cardinality());
          if (n > 1000) {
            break; // one epoch of the largest is enough
          }
        }
      }
    }
  }

  @Test
  void seedStreamAndEpochEachChangeTheOrderAndNothingElseDoes() {
    long n = 64;
    long[] base = order(new SequenceOrder(5, 0, n), 0);
    assertEquals(Arrays.toString(base), Arrays.toString(order(new SequenceOrder(5, 0, n), 0)));
    assertFalse(Arrays.equals(base, order(new SequenceOrder(6, 0, n), 0)), "seed");
    assertFalse(Arrays.equals(base, order(new SequenceOrder(5, 1, n), 0)), "stream");
    assertFalse(Arrays.equals(base, order(new SequenceOrder(5, 0, n), 1)), "epoch");
    assertThrows(IllegalArgumentException.class, () -> new SequenceOrder(1, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new SequenceOrder(1, 0, 5).sequence(-1));
  }

  /**
   * The first draw over 20,000 seeds is close to uniform on [0, 10): a degenerate permutation (e.g.
   * the identity for most keys) fails this. Expected 2,000 per value, standard deviation 42.
   */
  @Test
  void firstDrawIsUniformOverSeeds() {
    int[] counts = new int[10];
    for (long seed = 0; seed < 20_000; seed++) {
      counts[(int) new SequenceOrder(seed, 0, 10).sequence(0)]++;
    }
    for (int c : counts) {
      assertTrue(c > 1800 && c < 2200, Arrays.toString(counts));
    }
  }

  private static long[] order(SequenceOrder o, long epoch) {
    long[] a = new long[(int) o.size()];
    for (int r = 0; r < a.length; r++) {
      a[r] = o.sequence(epoch * o.size() + r);
    }
    return a;
  }
}
