package io.skippipe.job.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Optional;

/**
 * Checkpoints as directories that become valid only when committed.
 *
 * <p>Layout under the root: {@code step-000120/stage-03/replica-1/<file>} (written by tasks) and
 * {@code step-000120/driver/<file>} (written by the driver), each file with a small
 * {@code <file>.crc32c} sidecar recording its size and CRC32C as the writer streamed it; then
 * {@code step-000120/_COMMITTED}, the manifest ({@link Commit}) written by the driver last, after
 * every task of the step succeeded. Files are streamed: no size limit, no whole-file buffer.
 *
 * <p>Trust rules: {@link #latest} returns the newest committed step of a lineage whose every file
 * still has the recorded size and checksum; a step with a damaged file, a missing file, a garbage
 * marker or no marker is skipped with a WARN naming it, so a run falls back to the newest intact
 * commit. {@link #open} verifies what it reads against the manifest. {@link #retain} never deletes
 * the newest two committed steps and never touches another lineage's steps.
 *
 * <p>Contract checked by {@code CheckpointStoreContractTest} on file://, hdfs:// and s3a://.
 */
public interface CheckpointStore {
  /** The marker file that makes a step valid. */
  String COMMITTED = "_COMMITTED";

  /** Suffix of the checksum sidecar the store writes next to every file. */
  String CHECKSUM_SUFFIX = ".crc32c";

  /** The root URI. */
  String root();

  /**
   * Opens a file of a step for writing, replacing an earlier one (a retried chunk rewrites its
   * step). Closing the stream records its size and CRC32C in the sidecar.
   *
   * @param relPath path inside the step directory, e.g. {@link #replicaFile} or {@code driver/x}
   * @throws IllegalStateException when the step is already committed (committed steps are
   *     immutable)
   */
  OutputStream create(long step, String relPath) throws IOException;

  /**
   * Opens a file of a step for reading. The stream checks what it delivers against the commit's
   * manifest (or, before the commit, the sidecar): size and CRC32C are compared once the last byte
   * is read or at {@code close()} (which reads what is left), and a mismatch throws a
   * {@link CorruptCheckpointException} naming the file.
   */
  InputStream open(long step, String relPath) throws IOException;

  /**
   * Commits a step: gathers every file's size and checksum from its sidecar into the manifest and
   * writes {@code _COMMITTED} last (atomically visible).
   *
   * @throws IOException when the step has no files, or a file has no sidecar or another size than
   *     its sidecar says (it was not written through {@link #create} or was changed since)
   */
  Commit commit(long step, String lineage, String planHash) throws IOException;

  /** The manifest of a step; empty when the step has no marker or the marker cannot be parsed. */
  Optional<Commit> readCommit(long step) throws IOException;

  /** Steps with a marker, ascending (files not checked). */
  List<Long> committedSteps() throws IOException;

  /**
   * The newest committed step of {@code lineage} whose files all exist with their recorded sizes
   * and checksums (reads every file of the candidates it checks). Skipped steps are logged at WARN
   * with the file and the reason.
   *
   * @param lineage the run lineage, or {@code null} for any
   */
  Optional<Commit> latest(String lineage) throws IOException;

  /**
   * Deletes {@code lineage}'s committed steps except the newest {@code keep}, and uncommitted step
   * directories older than its newest commit (leftovers of failed attempts). Returns the deleted
   * steps.
   *
   * @throws IllegalArgumentException when keep &lt; 2 (the newest may be the one being replaced)
   */
  List<Long> retain(String lineage, int keep) throws IOException;

  /** Deletes every step directory under the root (overwriting a run); returns how many. */
  int deleteAll() throws IOException;

  /** The directory name of a step. */
  static String stepDir(long step) {
    return String.format("step-%06d", step);
  }

  /** A replica's file path relative to the step directory. */
  static String replicaFile(int stage, int replica, String name) {
    return String.format("stage-%02d/replica-%d/%s", stage, replica, name);
  }
}
