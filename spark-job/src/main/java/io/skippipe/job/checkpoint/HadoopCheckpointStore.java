package io.skippipe.job.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.spark.HadoopConfs;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
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
 * <p>{@code _COMMITTED} is made visible atomically: on filesystems with atomic rename it is written
 * to a temporary name and renamed (checking rename's boolean); on S3A a PUT becomes visible whole at
 * {@code close()}, and rename would be a copy, so it is written in place.
 */
public final class HadoopCheckpointStore implements CheckpointStore {
  private static final Logger LOG = LoggerFactory.getLogger(HadoopCheckpointStore.class);
  private static final ObjectMapper JSON = new ObjectMapper();

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
  public void write(long step, int stage, int replica, String name, byte[] bytes)
      throws IOException {
    writeFile(new Path(stepPath(step), CheckpointStore.replicaFile(stage, replica, name)), bytes);
  }

  @Override
  public byte[] read(long step, int stage, int replica, String name) throws IOException {
    return readFile(new Path(stepPath(step), CheckpointStore.replicaFile(stage, replica, name)));
  }

  @Override
  public void writeDriverFile(long step, String name, byte[] bytes) throws IOException {
    writeFile(new Path(stepPath(step), "driver/" + name), bytes);
  }

  @Override
  public byte[] readDriverFile(long step, String name) throws IOException {
    return readFile(new Path(stepPath(step), "driver/" + name));
  }

  private void writeFile(Path p, byte[] bytes) throws IOException {
    try (FSDataOutputStream out = fs.create(p, true)) {
      out.write(bytes);
    }
  }

  private byte[] readFile(Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return in.readAllBytes();
    }
  }

  @Override
  public Commit commit(long step, String planHash) throws IOException {
    Path dir = stepPath(step);
    Map<String, Long> sizes = new TreeMap<>();
    String prefix = fs.makeQualified(dir).toUri().getPath();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
    while (it.hasNext()) {
      LocatedFileStatus f = it.next();
      String rel = f.getPath().toUri().getPath().substring(prefix.length() + 1);
      if (!rel.startsWith(COMMITTED)) {
        sizes.put(rel, f.getLen());
      }
    }
    if (sizes.isEmpty()) {
      throw new IOException("cannot commit " + new Path(dir, COMMITTED) + ": the step has no files");
    }
    Commit c = new Commit(step, planHash, sizes, System.currentTimeMillis());
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("step", c.step());
    json.put("planHash", c.planHash());
    json.put("committedAtMillis", c.committedAtMillis());
    json.put("files", c.fileSizes());
    byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json);
    Path marker = new Path(dir, COMMITTED);
    if ("s3a".equals(fs.getScheme())) {
      writeFile(marker, bytes);
    } else {
      Path tmp = new Path(dir, COMMITTED + ".tmp");
      try (OutputStream out = fs.create(tmp, true)) {
        out.write(bytes);
      }
      fs.delete(marker, false);
      if (!fs.rename(tmp, marker)) {
        throw new IOException("rename " + tmp + " -> " + marker + " returned false");
      }
    }
    return c;
  }

  @Override
  public Optional<Commit> readCommit(long step) throws IOException {
    Path marker = new Path(stepPath(step), COMMITTED);
    if (!fs.exists(marker)) {
      return Optional.empty();
    }
    Map<?, ?> m = JSON.readValue(readFile(marker), Map.class);
    Map<String, Long> sizes = new TreeMap<>();
    ((Map<?, ?>) m.get("files")).forEach((k, v) -> sizes.put((String) k, ((Number) v).longValue()));
    return Optional.of(new Commit(((Number) m.get("step")).longValue(), (String) m.get("planHash"),
        sizes, ((Number) m.get("committedAtMillis")).longValue()));
  }

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
  public Optional<Commit> latest() throws IOException {
    List<Long> committed = committedSteps();
    for (int i = committed.size() - 1; i >= 0; i--) {
      long step = committed.get(i);
      Optional<Commit> c = readCommit(step);
      if (c.isPresent() && complete(c.get())) {
        return c;
      }
    }
    return Optional.empty();
  }

  private boolean complete(Commit c) throws IOException {
    Path dir = stepPath(c.step());
    for (Map.Entry<String, Long> e : c.fileSizes().entrySet()) {
      Path p = new Path(dir, e.getKey());
      long len;
      try {
        len = fs.getFileStatus(p).getLen();
      } catch (java.io.FileNotFoundException ex) {
        LOG.warn("checkpoint step {} is committed but {} is missing; skipping it", c.step(), p);
        return false;
      }
      if (len != e.getValue()) {
        LOG.warn("checkpoint step {}: {} has {} bytes, the commit says {}; skipping it", c.step(),
            p, len, e.getValue());
        return false;
      }
    }
    return true;
  }

  @Override
  public List<Long> retain(int keep) throws IOException {
    if (keep < 2) {
      throw new IllegalArgumentException("checkpoint retention must keep at least 2 steps, was "
          + keep + " (spark.skippipe.checkpoint.keep): the newest may be the one being replaced");
    }
    List<Long> committed = committedSteps();
    List<Long> deleted = new ArrayList<>();
    if (committed.isEmpty()) {
      return deleted;
    }
    long newest = committed.get(committed.size() - 1);
    List<Long> keepSteps = committed.subList(Math.max(0, committed.size() - keep),
        committed.size());
    for (long s : steps()) {
      boolean old = committed.contains(s) ? !keepSteps.contains(s) : s < newest;
      if (old) {
        if (!fs.delete(stepPath(s), true)) {
          throw new UncheckedIOException(new IOException("could not delete " + stepPath(s)));
        }
        deleted.add(s);
      }
    }
    return deleted;
  }
}
