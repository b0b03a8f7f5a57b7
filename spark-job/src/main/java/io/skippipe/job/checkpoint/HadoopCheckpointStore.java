package io.skippipe.job.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.spark.HadoopConfs;
import java.io.FileNotFoundException;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link CheckpointStore} over any Hadoop FileSystem (file://, hdfs://, s3a://, ...).
 *
 * <p>Checksums are ours, not the filesystem's: every file is written through a stream that
 * computes its CRC32C (hardware-accelerated in the JDK) and records size and checksum in a
 * {@code .crc32c} sidecar on close; the commit copies them into the manifest. S3A keeps no
 * checksum sidecar of its own, and Hadoop's local {@code .crc} files would refuse a damaged step
 * outright instead of letting the run fall back — both are covered by verifying against our
 * manifest.
 *
 * <p>{@code _COMMITTED} is made visible atomically: on filesystems with atomic rename it is written
 * to a temporary name and renamed (checking rename's boolean); on S3A a PUT becomes visible whole at
 * {@code close()}, and rename would be a copy, so it is written in place.
 */
public final class HadoopCheckpointStore implements CheckpointStore {
  private static final Logger LOG = LoggerFactory.getLogger(HadoopCheckpointStore.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int BUFFER = 1 << 20;

  private final Path root;
  private final FileSystem fs;

  /** A store at {@code rootUri} (a Hadoop URI or a local path). */
  public HadoopCheckpointStore(String rootUri, Configuration conf) throws IOException {
    this.root = new Path(HadoopConfs.toUri(rootUri));
    this.fs = root.getFileSystem(conf);
  }

  @Override
  public String root() {
    return root.toString();
  }

  private Path stepPath(long step) {
    return new Path(root, CheckpointStore.stepDir(step));
  }

  @Override
  public OutputStream create(long step, String relPath) throws IOException {
    if (fs.exists(new Path(stepPath(step), COMMITTED))) {
      throw new IllegalStateException("checkpoint step " + step + " under " + root
          + " is committed; committed steps are never rewritten (file " + relPath + ")");
    }
    Path file = new Path(stepPath(step), relPath);
    return new ChecksummingOutputStream(fs.create(file, true, BUFFER), file);
  }

  @Override
  public InputStream open(long step, String relPath) throws IOException {
    Path file = new Path(stepPath(step), relPath);
    Optional<Commit> commit = readCommit(step);
    Commit.FileEntry expected = commit.isPresent() ? commit.get().files().get(relPath)
        : readSidecar(file);
    if (expected == null) {
      throw new FileNotFoundException("checkpoint step " + step + " has no file " + relPath
          + " in its manifest (" + file + ")");
    }
    return new VerifyingInputStream(fs.open(file, BUFFER), file, expected);
  }

  @Override
  public Commit commit(long step, String lineage, String planHash) throws IOException {
    Path dir = stepPath(step);
    Map<String, Commit.FileEntry> files = new TreeMap<>();
    String prefix = fs.makeQualified(dir).toUri().getPath();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
    while (it.hasNext()) {
      LocatedFileStatus f = it.next();
      String rel = f.getPath().toUri().getPath().substring(prefix.length() + 1);
      if (rel.startsWith(COMMITTED) || rel.endsWith(CHECKSUM_SUFFIX)) {
        continue;
      }
      Commit.FileEntry e = readSidecar(f.getPath());
      if (e == null) {
        throw new IOException("cannot commit " + dir + ": " + f.getPath() + " has no checksum"
            + " sidecar (it was not written through the checkpoint store)");
      }
      if (e.bytes() != f.getLen()) {
        throw new IOException("cannot commit " + dir + ": " + f.getPath() + " has " + f.getLen()
            + " bytes but was written with " + e.bytes());
      }
      files.put(rel, e);
    }
    if (files.isEmpty()) {
      throw new IOException("cannot commit " + new Path(dir, COMMITTED) + ": the step has no files");
    }
    Commit c = new Commit(step, lineage, planHash, files, System.currentTimeMillis());
    byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(toJson(c));
    Path marker = new Path(dir, COMMITTED);
    if ("s3a".equals(fs.getScheme())) {
      writeSmall(marker, bytes);
    } else {
      Path tmp = new Path(dir, COMMITTED + ".tmp");
      writeSmall(tmp, bytes);
      fs.delete(marker, false);
      if (!fs.rename(tmp, marker)) {
        throw new IOException("rename " + tmp + " -> " + marker + " returned false");
      }
    }
    return c;
  }

  private static ObjectNode toJson(Commit c) {
    ObjectNode o = JSON.createObjectNode();
    o.put("format", Commit.FORMAT);
    o.put("step", c.step());
    o.put("lineage", c.lineage());
    o.put("planHash", c.planHash());
    o.put("committedAtMillis", c.committedAtMillis());
    ObjectNode files = o.putObject("files");
    c.files().forEach((k, v) -> files.putObject(k).put("bytes", v.bytes())
        .put("crc32c", v.crc32c()));
    return o;
  }

  @Override
  public Optional<Commit> readCommit(long step) throws IOException {
    Path marker = new Path(stepPath(step), COMMITTED);
    byte[] bytes;
    try (InputStream in = fs.open(marker)) {
      bytes = in.readAllBytes();
    } catch (FileNotFoundException e) {
      return Optional.empty();
    }
    try {
      JsonNode o = JSON.readTree(bytes);
      if (!Commit.FORMAT.equals(o.path("format").asText())) {
        throw new IllegalArgumentException("format is '" + o.path("format").asText()
            + "', expected " + Commit.FORMAT);
      }
      Map<String, Commit.FileEntry> files = new TreeMap<>();
      o.get("files").fields().forEachRemaining(e -> files.put(e.getKey(),
          new Commit.FileEntry(e.getValue().get("bytes").asLong(),
              e.getValue().get("crc32c").asText())));
      return Optional.of(new Commit(o.get("step").asLong(), o.get("lineage").asText(),
          o.get("planHash").asText(), files, o.get("committedAtMillis").asLong()));
    } catch (IOException | RuntimeException e) {
      LOG.warn("checkpoint step {}: marker {} cannot be read ({}); the step is not trusted", step,
          marker, e.getMessage());
      return Optional.empty();
    }
  }

  /** Step directories under the root, ascending. */
  private List<Long> steps() throws IOException {
    if (!fs.exists(root)) {
      return List.of();
    }
    List<Long> out = new ArrayList<>();
    for (FileStatus s : fs.listStatus(root)) {
      String n = s.getPath().getName();
      if (s.isDirectory() && n.matches("step-\\d+")) {
        out.add(Long.parseLong(n.substring(5)));
      }
    }
    Collections.sort(out);
    return out;
  }

  @Override
  public List<Long> committedSteps() throws IOException {
    List<Long> out = new ArrayList<>();
    for (long s : steps()) {
      if (fs.exists(new Path(stepPath(s), COMMITTED))) {
        out.add(s);
      }
    }
    return out;
  }

  @Override
  public Optional<Commit> latest(String lineage) throws IOException {
    List<Long> all = steps();
    for (int i = all.size() - 1; i >= 0; i--) {
      long step = all.get(i);
      if (!fs.exists(new Path(stepPath(step), COMMITTED))) {
        LOG.warn("checkpoint {} has no {} marker (a chunk that ended before its commit);"
            + " ignoring it", stepPath(step), COMMITTED);
        continue;
      }
      Optional<Commit> c = readCommit(step);
      if (c.isEmpty() || (lineage != null && !lineage.equals(c.get().lineage()))) {
        continue;
      }
      String damage = damage(c.get());
      if (damage == null) {
        return c;
      }
      LOG.warn("checkpoint step {} is committed but {}; falling back to an older commit", step,
          damage);
    }
    return Optional.empty();
  }

  /** Why a committed step cannot be trusted, or null when every file verifies. */
  private String damage(Commit c) throws IOException {
    Path dir = stepPath(c.step());
    byte[] buf = new byte[BUFFER];
    for (Map.Entry<String, Commit.FileEntry> e : c.files().entrySet()) {
      Path p = new Path(dir, e.getKey());
      try (InputStream in = new VerifyingInputStream(fs.open(p, BUFFER), p, e.getValue())) {
        while (in.read(buf) >= 0) {
          // VerifyingInputStream checks size and CRC32C at the end
        }
      } catch (FileNotFoundException ex) {
        return p + " is missing";
      } catch (IOException ex) { // ours, or Hadoop's ChecksumException from a local .crc file
        return p + " is damaged (" + ex.getMessage() + ")";
      }
    }
    return null;
  }

  @Override
  public List<Long> retain(String lineage, int keep) throws IOException {
    if (keep < 2) {
      throw new IllegalArgumentException("checkpoint retention must keep at least 2 steps, was "
          + keep + " (spark.skippipe.checkpoint.keep): the newest may be the one being replaced");
    }
    List<Long> mine = new ArrayList<>();
    List<Long> others = new ArrayList<>();
    for (long s : committedSteps()) {
      Optional<Commit> c = readCommit(s);
      (c.isPresent() && c.get().lineage().equals(lineage) ? mine : others).add(s);
    }
    List<Long> deleted = new ArrayList<>();
    if (mine.isEmpty()) {
      return deleted;
    }
    long newest = mine.get(mine.size() - 1);
    List<Long> keepSteps = mine.subList(Math.max(0, mine.size() - keep), mine.size());
    for (long s : steps()) {
      boolean old = mine.contains(s) ? !keepSteps.contains(s)
          : !others.contains(s) && s < newest;
      if (old) {
        delete(stepPath(s));
        deleted.add(s);
      }
    }
    return deleted;
  }

  @Override
  public int deleteAll() throws IOException {
    List<Long> all = steps();
    for (long s : all) {
      delete(stepPath(s));
    }
    return all.size();
  }

  private void delete(Path p) throws IOException {
    if (!fs.delete(p, true) && fs.exists(p)) {
      throw new IOException("could not delete " + p);
    }
  }

  private void writeSmall(Path p, byte[] bytes) throws IOException {
    try (OutputStream out = fs.create(p, true)) {
      out.write(bytes);
    }
  }

  private Commit.FileEntry readSidecar(Path file) throws IOException {
    Path side = new Path(file.getParent(), file.getName() + CHECKSUM_SUFFIX);
    try (InputStream in = fs.open(side)) {
      JsonNode o = JSON.readTree(in.readAllBytes());
      return new Commit.FileEntry(o.get("bytes").asLong(), o.get("crc32c").asText());
    } catch (FileNotFoundException e) {
      return null;
    } catch (RuntimeException e) {
      throw new IOException("checksum sidecar " + side + " cannot be read: " + e.getMessage(), e);
    }
  }

  private static String hex(long crc) {
    return String.format("%08x", crc);
  }

  /** Counts and checksums what passes; writes the sidecar after the file is closed. */
  private final class ChecksummingOutputStream extends FilterOutputStream {
    private final Path file;
    private final CRC32C crc = new CRC32C();
    private long bytes;
    private boolean closed;

    ChecksummingOutputStream(OutputStream out, Path file) {
      super(out);
      this.file = file;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      crc.update(b);
      bytes++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      crc.update(b, off, len);
      bytes += len;
    }

    @Override
    public void close() throws IOException {
      if (closed) {
        return;
      }
      closed = true;
      out.close();
      ObjectNode o = JSON.createObjectNode().put("bytes", bytes).put("crc32c", hex(crc.getValue()));
      writeSmall(new Path(file.getParent(), file.getName() + CHECKSUM_SUFFIX),
          JSON.writeValueAsBytes(o));
    }
  }

  /** Checks size and CRC32C of what it delivers once the recorded length is reached or at close. */
  private static final class VerifyingInputStream extends FilterInputStream {
    private final Path file;
    private final Commit.FileEntry expected;
    private final CRC32C crc = new CRC32C();
    private long bytes;
    private boolean verified;

    VerifyingInputStream(InputStream in, Path file, Commit.FileEntry expected) {
      super(in);
      this.file = file;
      this.expected = expected;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        crc.update(b, off, n);
        bytes += n;
        if (bytes > expected.bytes()) {
          throw new CorruptCheckpointException(file + " is longer than the " + expected.bytes()
              + " bytes recorded for it");
        }
      }
      if (n < 0 || bytes == expected.bytes()) {
        verify();
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      byte[] buf = new byte[(int) Math.min(BUFFER, Math.max(0, n))];
      int r = read(buf, 0, buf.length);
      return Math.max(r, 0);
    }

    @Override
    public boolean markSupported() {
      return false;
    }

    private void verify() throws IOException {
      if (verified) {
        return;
      }
      verified = true;
      if (bytes != expected.bytes()) {
        throw new CorruptCheckpointException(file + " has " + bytes + " bytes, "
            + expected.bytes() + " were recorded for it (truncated)");
      }
      String got = hex(crc.getValue());
      if (!got.equals(expected.crc32c())) {
        throw new CorruptCheckpointException(file + " has CRC32C " + got + ", " + expected.crc32c()
            + " was recorded for it (the content changed after it was written)");
      }
    }

    @Override
    public void close() throws IOException {
      try {
        if (!verified) {
          byte[] buf = new byte[BUFFER];
          while (read(buf, 0, buf.length) >= 0) {
            // drain: verify() runs at the end
          }
        }
      } finally {
        in.close();
      }
    }
  }
}
