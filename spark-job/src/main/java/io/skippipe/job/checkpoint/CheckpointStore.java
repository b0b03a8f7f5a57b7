package io.skippipe.job.checkpoint;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Checkpoints as directories that become valid only when committed.
 *
 * <p>Layout under the root: {@code step-000120/stage-03/replica-1/<file>} (written by tasks),
 * {@code step-000120/driver/<file>} (data cursors, RNG, metrics; written by the driver) and
 * {@code step-000120/_COMMITTED} (JSON {@link Commit}; written by the driver last, after every task
 * of the step succeeded). {@link #latest()} trusts only committed steps whose files still have the
 * recorded sizes; {@link #retain} never deletes the newest two committed steps.
 *
 * <p>Contract checked by {@code CheckpointStoreContractTest} on file://, hdfs:// and s3a://.
 */
public interface CheckpointStore {
  /** The marker file that makes a step valid. */
  String COMMITTED = "_COMMITTED";

  /** The root URI. */
  String root();

  /** Writes a stage replica's file of a step (overwrites: a retried chunk rewrites its step). */
  void write(long step, int stage, int replica, String name, byte[] bytes) throws IOException;

  /** Reads a stage replica's file of a step. */
  byte[] read(long step, int stage, int replica, String name) throws IOException;

  /** Writes a driver-level file of a step ({@code step-N/driver/name}). */
  void writeDriverFile(long step, String name, byte[] bytes) throws IOException;

  /** Reads a driver-level file of a step. */
  byte[] readDriverFile(long step, String name) throws IOException;

  /**
   * Commits a step: records the sizes of all its files and the plan hash in {@code _COMMITTED},
   * written last. Throws when the step has no files.
   */
  Commit commit(long step, String planHash) throws IOException;

  /** The commit of a step, if committed. */
  Optional<Commit> readCommit(long step) throws IOException;

  /** Committed steps, ascending (marker present; sizes not checked). */
  List<Long> committedSteps() throws IOException;

  /** The newest committed step whose files all exist with their recorded sizes. */
  Optional<Commit> latest() throws IOException;

  /**
   * Deletes all but the newest {@code keep} committed steps, and uncommitted steps older than the
   * newest committed one (leftovers of failed attempts). Returns the deleted steps.
   *
   * @throws IllegalArgumentException when keep &lt; 2 (the newest may be the one being replaced)
   */
  List<Long> retain(int keep) throws IOException;

  /** The directory name of a step. */
  static String stepDir(long step) {
    return String.format("step-%06d", step);
  }

  /** A replica's file path relative to the step directory. */
  static String replicaFile(int stage, int replica, String name) {
    return String.format("stage-%02d/replica-%d/%s", stage, replica, name);
  }
}
