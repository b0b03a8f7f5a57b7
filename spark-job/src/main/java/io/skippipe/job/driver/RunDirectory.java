package io.skippipe.job.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run directory's lifecycle: one run (a <i>lineage</i>) per directory, identified by
 * {@code RUN_DIR/run.json}.
 *
 * <ol>
 *   <li>{@link #inspect} only reads: the identity, the newest intact commit of the lineage, and the
 *       decision — {@link Start#FRESH}, {@link Start#RESUME} (the default whenever the directory
 *       holds the run: retries from Airflow, YARN or an operator resume) or {@link Start#FINISHED}
 *       (the newest commit reached {@code train.iterations}: a successful no-op). A non-resuming
 *       run into a directory that holds commits, or a resume whose model does not fit the commits,
 *       is refused with a {@link ConfigException} — nothing has been written yet.
 *   <li>{@link #begin} runs after every check that may refuse the run has passed: with
 *       {@code run.overwrite} it first removes the old run (checkpoints, metrics, traces, plans,
 *       data), then writes {@code run.json} for a new lineage.
 * </ol>
 *
 * <p>Commits record their lineage; resume, retention and reporting consider only the current
 * lineage's commits ({@link CheckpointStore#latest}, {@link CheckpointStore#retain}).
 */
public final class RunDirectory {
  private static final Logger LOG = LoggerFactory.getLogger(RunDirectory.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The identity file's name and format. */
  public static final String RUN_JSON = "run.json";
  static final String FORMAT = "skippipe-run/1";

  /** How the run starts. */
  public enum Start { FRESH, RESUME, FINISHED }

  /**
   * The run's identity, as recorded in {@code run.json}.
   *
   * @param lineage random id of the run; every commit carries it
   * @param originMicros wall clock (µs since the epoch) when the run first started: the common
   *     time origin of every measured span of the run, across chunks and resumes
   * @param model the model's shape (what the commits' tensors must match), as JSON
   * @param seed the run's seed
   */
  public record Identity(String lineage, long originMicros, JsonNode model, long seed) {}

  private final JobConfig cfg;
  private final FileSystem fs;
  private final Path dir;
  private final CheckpointStore store;
  private final Identity existing;
  private final Identity identity;
  private final Start start;
  private final Optional<Commit> resumeFrom;

  private RunDirectory(JobConfig cfg, FileSystem fs, Path dir, CheckpointStore store,
      Identity existing, Identity identity, Start start, Optional<Commit> resumeFrom) {
    this.cfg = cfg;
    this.fs = fs;
    this.dir = dir;
    this.store = store;
    this.existing = existing;
    this.identity = identity;
    this.start = start;
    this.resumeFrom = resumeFrom;
  }

  /**
   * Reads the directory and decides how the run starts; writes nothing.
   *
   * @param model the shape of the model this configuration trains (e.g. the model spec as JSON)
   * @throws ConfigException when the directory holds another run that this one may not continue
   */
  public static RunDirectory inspect(JobConfig cfg, JsonNode model, Configuration conf)
      throws IOException {
    Path dir = new Path(HadoopConfs.toUri(cfg.runDir()));
    FileSystem fs = dir.getFileSystem(conf);
    CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(), conf);
    Identity existing = readIdentity(fs, new Path(dir, RUN_JSON));
    boolean overwrite = cfg.overwrite();
    if (overwrite) {
      return new RunDirectory(cfg, fs, dir, store, existing, newIdentity(cfg, model), Start.FRESH,
          Optional.empty());
    }
    List<Long> committed = store.committedSteps();
    if (existing == null) {
      if (!committed.isEmpty()) {
        throw new ConfigException(ConfigKeys.RUN_DIR.name(), cfg.runDir(), "the checkpoint"
            + " directory " + store.root() + " already holds committed steps " + committed
            + " of a run this directory does not describe (no " + RUN_JSON + ")",
            "choose a new run directory, or set " + ConfigKeys.RUN_OVERWRITE.name()
                + "=true to delete them and start over");
      }
      return new RunDirectory(cfg, fs, dir, store, null, newIdentity(cfg, model), Start.FRESH,
          Optional.empty());
    }
    if (!cfg.checkpoint().resume()) {
      throw new ConfigException(ConfigKeys.CHECKPOINT_RESUME.name(), "false", "the run directory "
          + cfg.runDir() + " already holds run " + existing.lineage() + (committed.isEmpty() ? ""
          : " with committed steps up to " + committed.get(committed.size() - 1))
          + ", and a non-resuming run would mix with it", "leave " + ConfigKeys.CHECKPOINT_RESUME
          .name() + "=true (the default) to continue it, set " + ConfigKeys.RUN_OVERWRITE.name()
          + "=true to delete it and start over, or choose a new run directory");
    }
    if (!existing.model().equals(model)) {
      throw new ConfigException(ConfigKeys.MODEL.name(), cfg.model(), "the run directory "
          + cfg.runDir() + " holds a run of another model shape " + existing.model()
          + "; its checkpoints cannot be loaded into " + model, "resume with the run's own model"
          + " settings, choose a new run directory, or set " + ConfigKeys.RUN_OVERWRITE.name()
          + "=true to delete the old run");
    }
    if (existing.seed() != cfg.seed()) {
      LOG.warn("{}={} differs from the run's seed {}: the data order of the remaining iterations"
          + " changes", ConfigKeys.SEED.name(), cfg.seed(), existing.seed());
    }
    Optional<Commit> latest = store.latest(existing.lineage());
    Start start = latest.isEmpty() ? Start.RESUME
        : latest.get().step() >= cfg.train().iterations() ? Start.FINISHED : Start.RESUME;
    return new RunDirectory(cfg, fs, dir, store, existing, existing, start, latest);
  }

  private static Identity newIdentity(JobConfig cfg, JsonNode model) {
    return new Identity(UUID.randomUUID().toString(),
        System.currentTimeMillis() * 1000L, model, cfg.seed());
  }

  /**
   * Makes the directory hold this run: with {@code run.overwrite} removes the old run first, then
   * writes {@code run.json} for a fresh lineage. Call only after every check that may refuse the
   * run has passed.
   */
  public void begin() throws IOException {
    if (cfg.overwrite()) {
      int steps = store.deleteAll();
      if (fs.exists(dir)) {
        for (var f : fs.listStatus(dir)) {
          if (!fs.delete(f.getPath(), true) && fs.exists(f.getPath())) {
            throw new IOException("could not delete " + f.getPath() + " (overwriting the run)");
          }
        }
      }
      if (existing != null || steps > 0) {
        LOG.warn("{}=true: deleted the previous run {} ({} checkpoint steps) in {}",
            ConfigKeys.RUN_OVERWRITE.name(), existing == null ? "(no run.json)"
                : existing.lineage(), steps, cfg.runDir());
      }
    }
    if (start == Start.FRESH) {
      ObjectNode o = JSON.createObjectNode();
      o.put("format", FORMAT);
      o.put("lineage", identity.lineage());
      o.put("originMicros", identity.originMicros());
      o.put("seed", identity.seed());
      o.set("model", identity.model());
      Path p = new Path(dir, RUN_JSON);
      try (OutputStream out = fs.create(p, true)) {
        out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o));
      }
    }
  }

  private static Identity readIdentity(FileSystem fs, Path p) throws IOException {
    byte[] bytes;
    try (InputStream in = fs.open(p)) {
      bytes = in.readAllBytes();
    } catch (FileNotFoundException e) {
      return null;
    }
    try {
      JsonNode o = JSON.readTree(bytes);
      if (!FORMAT.equals(o.path("format").asText())) {
        throw new IOException("format '" + o.path("format").asText() + "', expected " + FORMAT);
      }
      return new Identity(o.get("lineage").asText(), o.get("originMicros").asLong(),
          o.get("model"), o.get("seed").asLong());
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(ConfigKeys.RUN_DIR.name(), p.getParent().toString(), p
          + " cannot be read (" + new String(bytes, 0, Math.min(bytes.length, 80),
          StandardCharsets.UTF_8) + "...: " + e.getMessage() + ")", "restore it, choose a new"
          + " run directory, or set " + ConfigKeys.RUN_OVERWRITE.name() + "=true to start over");
    }
  }

  public Start start() {
    return start;
  }

  public Identity identity() {
    return identity;
  }

  /** The commit a resume starts from (empty: from the initial weights). */
  public Optional<Commit> resumeFrom() {
    return resumeFrom;
  }

  public CheckpointStore store() {
    return store;
  }

  /** The run directory as a Hadoop path. */
  public Path path() {
    return dir;
  }

  /** The filesystem of the run directory. */
  public FileSystem fs() {
    return fs;
  }
}
