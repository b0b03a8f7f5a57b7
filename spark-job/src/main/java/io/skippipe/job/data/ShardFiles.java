package io.skippipe.job.data;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.data.PackedDataset;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.functional.FutureIO;

/**
 * A data node's shard as written by data preparation: its part files ({@code part-*.bin} of the
 * node's directory, in name order, or one packed token file) read as one list of sequences through
 * seekable Hadoop streams. Only the file listing and the headers are read up front; a read opens
 * the part files it needs (with the listed status, so S3A makes no extra HEAD request and reads in
 * random-access mode) and reads each sequence with one positioned read.
 */
public final class ShardFiles {
  private final String source;
  private final int seqLen;
  private final FileSystem fs;
  private final FileStatus[] files;
  private final long[] firstSequence; // cumulative counts: file f holds [first[f], first[f+1])

  private ShardFiles(String source, int seqLen, FileSystem fs, FileStatus[] files,
      long[] firstSequence) {
    this.source = source;
    this.seqLen = seqLen;
    this.fs = fs;
    this.files = files;
    this.firstSequence = firstSequence;
  }

  /**
   * Opens the shard at {@code uri} (a node directory or one packed token file) whose sequences must
   * have {@code seqLen + 1} ids; a foreign, truncated or empty shard is a clear error.
   */
  public static ShardFiles open(String uri, Configuration conf, int seqLen) throws IOException {
    Path path = new Path(HadoopConfs.toUri(uri));
    FileSystem fs = path.getFileSystem(conf);
    FileStatus st = fs.getFileStatus(path);
    List<FileStatus> parts = new ArrayList<>();
    if (st.isDirectory()) {
      for (FileStatus f : fs.listStatus(path)) {
        String n = f.getPath().getName();
        if (f.isFile() && n.startsWith("part-") && n.endsWith(".bin")) {
          parts.add(f);
        }
      }
      parts.sort(Comparator.comparing(f -> f.getPath().getName()));
    } else {
      parts.add(st);
    }
    long[] first = new long[parts.size() + 1];
    byte[] head = new byte[PackedDataset.HEADER_BYTES];
    for (int i = 0; i < parts.size(); i++) {
      FileStatus f = parts.get(i);
      String name = f.getPath().toString();
      try (FSDataInputStream in = fs.open(f.getPath())) {
        in.readFully(0, head);
      } catch (java.io.EOFException e) {
        throw new IllegalArgumentException(name + " is truncated (shorter than its header);"
            + " prepare the data again", e);
      }
      int fileSeqLen = PackedDataset.checkHeader(head, name);
      if (fileSeqLen != seqLen) {
        throw new IllegalArgumentException(name + " holds sequences of seqLen " + fileSeqLen
            + " but the model's seqLen is " + seqLen + "; prepare the data again for this model");
      }
      first[i + 1] = first[i] + PackedDataset.sequenceCount(f.getLen(), seqLen, name);
    }
    if (first[parts.size()] == 0) {
      throw new IllegalArgumentException("data shard " + uri + " holds no sequence; prepare more"
          + " text (each data node needs at least one packed sequence)");
    }
    return new ShardFiles(uri, seqLen, fs, parts.toArray(new FileStatus[0]), first);
  }

  /** Sequences in the shard. */
  public long size() {
    return firstSequence[files.length];
  }

  /** Positions T per sequence (a sequence holds T+1 ids). */
  public int seqLen() {
    return seqLen;
  }

  /**
   * Reads sequences {@code indices[j]} into {@code dst} at {@code j·(seqLen+1)}, opening each part
   * file it needs once.
   */
  public void read(long[] indices, int[] dst) throws IOException {
    int t1 = seqLen + 1;
    byte[] bytes = new byte[4 * t1];
    Integer[] byFile = new Integer[indices.length];
    int[] fileOf = new int[indices.length];
    for (int j = 0; j < indices.length; j++) {
      if (indices[j] < 0 || indices[j] >= size()) {
        throw new IndexOutOfBoundsException("sequence " + indices[j] + " of " + size() + " in "
            + source);
      }
      int f = Arrays.binarySearch(firstSequence, indices[j]);
      fileOf[j] = f >= 0 ? nextNonEmpty(f) : -f - 2;
      byFile[j] = j;
    }
    Arrays.sort(byFile, Comparator.comparingInt((Integer j) -> fileOf[j]));
    FSDataInputStream in = null;
    int open = -1;
    try {
      for (int j : byFile) {
        int f = fileOf[j];
        if (f != open) {
          if (in != null) {
            in.close();
          }
          in = FutureIO.awaitFuture(fs.openFile(files[f].getPath()).withFileStatus(files[f])
              .opt("fs.option.openfile.read.policy", "random").build());
          open = f;
        }
        long pos = PackedDataset.HEADER_BYTES + (indices[j] - firstSequence[f]) * 4L * t1;
        in.readFully(pos, bytes);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(dst, j * t1, t1);
      }
    } finally {
      if (in != null) {
        in.close();
      }
    }
  }

  /** The file holding the sequence that starts file {@code f}'s range (skips empty files). */
  private int nextNonEmpty(int f) {
    while (firstSequence[f + 1] == firstSequence[f]) {
      f++;
    }
    return f;
  }
}
