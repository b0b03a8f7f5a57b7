package io.skippipe.job.data;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.io.compress.CompressionCodecFactory;

/**
 * The input files of data preparation and their splits: {@code spark.skippipe.data.input} names a
 * file, a directory (read recursively; names starting with {@code _} or {@code .} are skipped, as
 * Spark and Hadoop do for {@code _SUCCESS} and {@code .crc}) or a glob, on any Hadoop file system.
 *
 * <p>Splits depend only on the files and {@code spark.skippipe.data.splitBytes}, never on the
 * number of executors or Spark's defaults, so the same input always gives the same data-preparation
 * tasks and the same shards. Files are taken in URI order; each file is cut into byte ranges of
 * {@code splitBytes} (a compressed file, which cannot be read from the middle, is one split).
 */
public final class InputFiles {
  private InputFiles() {}

  /** An input file: its URI, length in bytes, modification time and whether it is compressed. */
  public record SourceFile(String uri, long length, long modified, boolean compressed)
      implements Serializable {}

  /**
   * One data-preparation task's input: bytes {@code [start, end)} of a file ({@code fileIndex} in
   * URI order), or, for the bundled corpus ({@code uri} empty), its documents {@code [start, end)}.
   * A split reads the records that begin inside its range (see {@link DocumentReader}).
   */
  public record Split(int index, int fileIndex, String uri, long start, long end,
      boolean compressed) implements Serializable {
    /** Whether this split reads the bundled corpus. */
    public boolean bundled() {
      return uri.isEmpty();
    }
  }

  /** Resolves {@code data.input} to its files in URI order; no file is a {@link ConfigException}. */
  public static List<SourceFile> list(String input, Configuration conf) throws IOException {
    Path pattern = inputPath(input);
    FileSystem fs = pattern.getFileSystem(conf);
    FileStatus[] matches;
    try {
      matches = fs.globStatus(pattern);
    } catch (IllegalArgumentException e) { // Hadoop parses each glob component as a path again
      throw new ConfigException(ConfigKeys.DATA_INPUT.name(), input, "is not a valid path, URI"
          + " or glob (" + e.getMessage() + ")", "write a local path or a Hadoop URI (no ':' inside"
          + " a path component), with globs such as hdfs:///data/part-*.jsonl or"
          + " /data/{train,extra}.txt");
    }
    if (matches == null || matches.length == 0) {
      throw new ConfigException(ConfigKeys.DATA_INPUT.name(), input,
          "does not exist (no file or directory matches " + pattern + ")",
          "give an existing file, directory or glob of text, JSON lines or Parquet (any Hadoop URI),"
              + " or leave it empty for the bundled corpus");
    }
    CompressionCodecFactory codecs = new CompressionCodecFactory(conf);
    List<SourceFile> files = new ArrayList<>();
    for (FileStatus m : matches) {
      if (m.isFile()) {
        files.add(source(m, codecs));
        continue;
      }
      RemoteIterator<LocatedFileStatus> it = fs.listFiles(m.getPath(), true);
      while (it.hasNext()) {
        LocatedFileStatus f = it.next();
        if (!hidden(m.getPath(), f.getPath())) {
          files.add(source(f, codecs));
        }
      }
    }
    files.sort(Comparator.comparing(SourceFile::uri));
    if (files.isEmpty()) {
      throw new ConfigException(ConfigKeys.DATA_INPUT.name(), input,
          "holds no input file (directories are read recursively; names starting with _ or . are"
              + " skipped)", "point it at the text, JSON lines or Parquet files");
    }
    return files;
  }

  /**
   * {@code data.input} as a Hadoop path: a URI with a scheme as given, else a local path made
   * absolute; glob characters ({@code * ? [ ] { }}) stay globs (a {@link java.net.URI} would reject
   * them).
   *
   * @throws IllegalArgumentException when Hadoop cannot parse it as a path
   */
  public static Path inputPath(String input) {
    if (input.matches("[A-Za-z][A-Za-z0-9+.-]*:.*")) {
      return new Path(input);
    }
    return new Path("file", null, Paths.get(input).toAbsolutePath().normalize().toString());
  }

  /**
   * The input format: {@code data.format} unless {@code auto}, else by the files' extensions
   * ({@code .parquet}; {@code .jsonl}, {@code .json}, optionally compressed; else text).
   */
  public static String format(String configured, List<SourceFile> files) {
    if (!configured.equals("auto")) {
      return configured;
    }
    String first = null;
    for (SourceFile f : files) {
      String ext = extensionFormat(f.uri());
      if (first == null) {
        first = ext;
      } else if (!first.equals(ext)) {
        throw new ConfigException(ConfigKeys.DATA_FORMAT.name(), configured, "cannot tell one"
            + " format: the input mixes " + first + " and " + ext + " files (" + f.uri() + ")",
            "set spark.skippipe.data.format=text|jsonl|parquet, or keep one format per input");
      }
    }
    return first;
  }

  private static String extensionFormat(String uri) {
    String lower = uri.toLowerCase(Locale.ROOT);
    for (String z : new String[] {".gz", ".bz2", ".zst", ".deflate", ".lz4", ".snappy"}) {
      if (lower.endsWith(z) && !lower.endsWith(".parquet" + z)) {
        lower = lower.substring(0, lower.length() - z.length());
      }
    }
    if (lower.endsWith(".parquet")) {
      return "parquet";
    }
    return lower.endsWith(".jsonl") || lower.endsWith(".json") || lower.endsWith(".ndjson")
        ? "jsonl" : "text";
  }

  /** The splits of the files (see the class comment). */
  public static List<Split> splits(List<SourceFile> files, long splitBytes) {
    List<Split> out = new ArrayList<>();
    for (int f = 0; f < files.size(); f++) {
      SourceFile file = files.get(f);
      if (file.compressed()) {
        out.add(new Split(out.size(), f, file.uri(), 0, Long.MAX_VALUE, true));
        continue;
      }
      for (long s = 0; s == 0 || s < file.length(); s += splitBytes) {
        out.add(new Split(out.size(), f, file.uri(), s, Math.min(file.length(), s + splitBytes),
            false));
      }
    }
    return out;
  }

  /** Splits of the bundled corpus: {@code perSplit} documents each. */
  public static List<Split> bundledSplits(int documents, int perSplit) {
    List<Split> out = new ArrayList<>();
    for (int d = 0; d < documents; d += perSplit) {
      out.add(new Split(out.size(), 0, "", d, Math.min(documents, d + perSplit), false));
    }
    return out;
  }

  private static SourceFile source(FileStatus f, CompressionCodecFactory codecs) {
    return new SourceFile(f.getPath().toUri().toString(), f.getLen(), f.getModificationTime(),
        codecs.getCodec(f.getPath()) != null);
  }

  private static boolean hidden(Path root, Path file) {
    for (Path p = file; p != null && !p.equals(root); p = p.getParent()) {
      String n = p.getName();
      if (n.startsWith("_") || n.startsWith(".")) {
        return true;
      }
    }
    return false;
  }
}
