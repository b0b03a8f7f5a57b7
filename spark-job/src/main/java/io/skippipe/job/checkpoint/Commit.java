package io.skippipe.job.checkpoint;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The content of a step's {@code _COMMITTED} marker, the step's manifest: which run lineage and
 * plan produced it, and the size and CRC32C of every file in the step, so a reader can tell an
 * intact step from a torn or damaged one on any filesystem (S3A has no checksum sidecars of its
 * own).
 *
 * @param step the optimizer step the weights are at (iterations completed)
 * @param lineage the id of the run that wrote it ({@code RUN_DIR/run.json}); resume and retention
 *     consider only commits of the current lineage
 * @param planHash the hash of the plan the last iterations before this step ran under
 * @param files path relative to the step directory → size and checksum
 * @param committedAtMillis wall clock of the commit, ms since the epoch
 */
public record Commit(long step, String lineage, String planHash, Map<String, FileEntry> files,
    long committedAtMillis) {

  /** The manifest format written into {@code _COMMITTED}. */
  public static final String FORMAT = "skippipe-commit/2";

  /**
   * One file of a step.
   *
   * @param bytes length in bytes
   * @param crc32c CRC32C (Castagnoli) of the content, 8 lower-case hex digits
   */
  public record FileEntry(long bytes, String crc32c) {
    public FileEntry {
      if (bytes < 0 || !crc32c.matches("[0-9a-f]{8}")) {
        throw new IllegalArgumentException("bad manifest entry: " + bytes + " bytes, crc32c "
            + crc32c);
      }
    }
  }

  public Commit {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, was " + step);
    }
    files = Collections.unmodifiableMap(new TreeMap<>(files));
  }
}
