package io.skippipe.job.checkpoint;

import java.util.Map;
import java.util.TreeMap;

/**
 * The content of a step's {@code _COMMITTED} marker: the plan the step was trained under and the
 * size of every file in the step, so a later reader can tell a complete step from a torn one.
 *
 * @param fileSizes path relative to the step directory → bytes
 */
public record Commit(long step, String planHash, Map<String, Long> fileSizes,
    long committedAtMillis) {
  public Commit {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, was " + step);
    }
    fileSizes = java.util.Collections.unmodifiableMap(new TreeMap<>(fileSizes));
  }
}
