package io.skippipe.job.driver;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * The run's metrics on its filesystem, brought up to date when a chunk completes (before its
 * commit), so a crash loses no completed iteration and a resume adds to them:
 *
 * <ul>
 *   <li>{@code metrics/iterations.jsonl}: one JSON line per completed iteration, ascending; on
 *       resume from step {@code s} the rows of iterations {@code >= s} (a chunk that completed
 *       but whose commit was interrupted, or a damaged commit the resume fell back from) are
 *       dropped and trained again, so a row is never duplicated.
 *       Replaced as a whole after each chunk (a temporary file renamed over it where the
 *       filesystem renames atomically; a single PUT on S3A).
 *   <li>{@code trace/measured-spans-<first iteration, 6 digits>.jsonl}: the measured spans of one
 *       chunk (a retried chunk overwrites its file; on resume from {@code s} the files of chunks
 *       starting at or after {@code s} are removed).
 * </ul>
 */
public final class MetricsLog {
  /** Relative path of the iteration metrics. */
  public static final String ITERATIONS = "metrics/iterations.jsonl";
  /** Relative folder of the measured span files. */
  public static final String TRACE_DIR = "trace";
  static final String SPANS_PREFIX = "measured-spans-";

  private final FileSystem fs;
  private final Path runDir;

  public MetricsLog(FileSystem fs, Path runDir) {
    this.fs = fs;
    // hdfs:///runs/x names the default filesystem without an authority; FileContext (the rename
    // below) refuses such a path, so every path here carries the filesystem's authority.
    this.runDir = fs.makeQualified(runDir);
  }

  /**
   * The iteration rows a run resuming at {@code step} keeps (iterations below it), and removes the
   * span files of chunks that start at or after it.
   */
  public List<String> resumeAt(long step) throws IOException {
    List<String> kept = new ArrayList<>();
    for (String line : readLines(new Path(runDir, ITERATIONS))) {
      if (RunMetrics.iterationOf(line) < step) {
        kept.add(line);
      }
    }
    Path trace = new Path(runDir, TRACE_DIR);
    if (fs.exists(trace)) {
      for (FileStatus f : fs.listStatus(trace)) {
        String n = f.getPath().getName();
        if (n.startsWith(SPANS_PREFIX) && n.endsWith(".jsonl")
            && Long.parseLong(n.substring(SPANS_PREFIX.length(), n.length() - 6)) >= step) {
          fs.delete(f.getPath(), false);
        }
      }
    }
    return kept;
  }

  /** Writes all iteration rows so far and one chunk's spans. */
  public void afterChunk(List<String> iterationLines, int firstIteration, List<String> spanLines)
      throws IOException {
    write(new Path(runDir, TRACE_DIR + "/" + SPANS_PREFIX
        + String.format("%06d", firstIteration) + ".jsonl"), spanLines);
    write(new Path(runDir, ITERATIONS), iterationLines);
  }

  private List<String> readLines(Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      List<String> out = new ArrayList<>();
      for (String l : text.split("\n")) {
        if (!l.isBlank()) {
          out.add(l);
        }
      }
      return out;
    } catch (FileNotFoundException e) {
      return List.of();
    }
  }

  private void write(Path p, List<String> lines) throws IOException {
    StringBuilder b = new StringBuilder();
    lines.forEach(l -> b.append(l).append('\n'));
    byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
    boolean atomicRename = !"s3a".equals(fs.getScheme());
    Path target = atomicRename ? new Path(p.getParent(), "." + p.getName() + ".tmp") : p;
    try (OutputStream out = fs.create(target, true)) {
      out.write(bytes);
    }
    if (atomicRename) {
      FileContext.getFileContext(fs.getUri(), fs.getConf()).rename(target, p,
          Options.Rename.OVERWRITE);
    }
  }
}
