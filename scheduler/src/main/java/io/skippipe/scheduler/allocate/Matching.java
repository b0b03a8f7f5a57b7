package io.skippipe.scheduler.allocate;

import java.util.Arrays;

/**
 * Bottleneck bipartite matching (spec §3.3, with quirk Q3 fixed): the smallest value v such that
 * every node of the smaller side can be matched to a distinct node of the other side using only
 * edges of weight at most v. Binary search over the distinct weights plus Kuhn's augmenting paths
 * (sides have at most a few dozen nodes).
 */
final class Matching {
  private Matching() {}

  /** The bottleneck value for weights {@code w[a][b]}. */
  static double bottleneck(double[][] w) {
    return solve(w, null);
  }

  /**
   * The bottleneck value; fills {@code matchOfRow[a]} with the column matched to row a (or -1)
   * for one matching achieving it.
   */
  static double solve(double[][] w, int[] matchOfRow) {
    int rows = w.length;
    int cols = w[0].length;
    double[] values = new double[rows * cols];
    int k = 0;
    for (double[] r : w) {
      for (double v : r) {
        values[k++] = v;
      }
    }
    Arrays.sort(values);
    int lo = 0;
    int hi = values.length - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (perfect(w, values[mid], null)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if (matchOfRow != null) {
      perfect(w, values[lo], matchOfRow);
    }
    return values[lo];
  }

  private static boolean perfect(double[][] w, double limit, int[] matchOfRowOut) {
    int rows = w.length;
    int cols = w[0].length;
    int[] rowOfCol = new int[cols];
    Arrays.fill(rowOfCol, -1);
    int matched = 0;
    for (int a = 0; a < rows; a++) {
      if (augment(w, limit, a, rowOfCol, new boolean[cols])) {
        matched++;
      }
    }
    if (matchOfRowOut != null) {
      Arrays.fill(matchOfRowOut, -1);
      for (int b = 0; b < cols; b++) {
        if (rowOfCol[b] >= 0) {
          matchOfRowOut[rowOfCol[b]] = b;
        }
      }
    }
    return matched == Math.min(rows, cols);
  }

  private static boolean augment(double[][] w, double limit, int a, int[] rowOfCol,
      boolean[] seen) {
    for (int b = 0; b < rowOfCol.length; b++) {
      if (w[a][b] <= limit && !seen[b]) {
        seen[b] = true;
        if (rowOfCol[b] < 0 || augment(w, limit, rowOfCol[b], rowOfCol, seen)) {
          rowOfCol[b] = a;
          return true;
        }
      }
    }
    return false;
  }
}
