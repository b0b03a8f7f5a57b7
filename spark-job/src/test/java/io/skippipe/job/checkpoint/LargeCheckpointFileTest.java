package io.skippipe.job.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.MotoS3;
import io.skippipe.model.weights.Safetensors;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 item 4: checkpoint files have no size limit. A tensor file is written through the
 * checkpoint store's stream and read back through it (size and CRC32C verified by the store),
 * with generated content: over 2 GiB on file:// (the old {@code byte[]} path could not hold it)
 * and over 100 MiB on S3A, which the S3A client uploads in parts (multipart size set to 5 MiB, as
 * S3 would with its default 64 MiB parts on bigger files). The safetensors writer and reader
 * stream chunk by chunk, so the test holds no tensor in memory either.
 */
class LargeCheckpointFileTest {
  @TempDir Path tmp;

  /** The generated value of element {@code i} of tensor number {@code t}: a cheap hash, exact. */
  static float value(int t, long i) {
    long h = (i + 1) * 0x9E3779B97F4A7C15L + t;
    return (float) ((h >>> 40) & 0xffff) - 32768f;
  }

  /** Tensors [rows, cols] named w0, w1, ...; returns the expected file length. */
  static long writeAndReadBack(CheckpointStore store, long step, int tensors, long rows, long cols)
      throws Exception {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (int t = 0; t < tensors; t++) {
      shapes.put("w" + t, new long[] {rows, cols});
    }
    Map<String, String> meta = Map.of("format", "pt");
    String rel = CheckpointStore.replicaFile(0, 0, "weights.safetensors");
    try (OutputStream out = new BufferedOutputStream(store.create(step, rel), 1 << 20)) {
      Safetensors.write(out, shapes, meta, (name, from, chunk, n) -> {
        int t = Integer.parseInt(name.substring(1));
        for (int k = 0; k < n; k++) {
          chunk[k] = value(t, from + k);
        }
      });
    }
    long[] checked = {0};
    try (InputStream in = new BufferedInputStream(store.open(step, rel), 1 << 20)) {
      Safetensors.read(in, -1, rel, null, (e, from, chunk, n) -> {
        int t = Integer.parseInt(e.name().substring(1));
        for (int k = 0; k < n; k++) {
          if (chunk[k] != value(t, from + k)) {
            throw new AssertionError(e.name() + "[" + (from + k) + "] = " + chunk[k]
                + ", written " + value(t, from + k));
          }
        }
        checked[0] += n;
      });
    }
    assertEquals(tensors * rows * cols, checked[0]);
    return Safetensors.serializedSize(shapes, meta);
  }

  @Test
  void aTensorFileOverTwoGibibytesRoundTripsThroughTheStoreOnFile() throws Exception {
    HadoopCheckpointStore store =
        new HadoopCheckpointStore(tmp.resolve("ckpt").toUri().toString(), HadoopConfs.current());
    // 3 tensors of 12288 x 15360 floats = 2.11 GiB (+ header)
    long length = writeAndReadBack(store, 1, 3, 12288, 15360);
    assertTrue(length > (1L << 31), "file of " + length + " bytes");
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(store.root(),
        CheckpointStore.stepDir(1) + "/" + CheckpointStore.replicaFile(0, 0,
            "weights.safetensors"));
    assertEquals(length, file.getFileSystem(HadoopConfs.current()).getFileStatus(file).getLen());
  }

  @Test
  void aFileOverOneHundredMebibytesGoesThroughS3aMultipart() throws Exception {
    try (MotoS3 moto = MotoS3.start()) {
      moto.createBucket("big");
      Configuration c = HadoopConfs.current(moto.hadoopConf());
      c.setBoolean("fs.s3a.impl.disable.cache", true);
      c.set("fs.s3a.multipart.size", "5M");
      c.set("fs.s3a.multipart.threshold", "5M");
      HadoopCheckpointStore store = new HadoopCheckpointStore("s3a://big/ckpt", c);
      // 2 tensors of 4096 x 3328 floats = 104 MiB (+ header)
      long length = writeAndReadBack(store, 7, 2, 4096, 3328);
      assertTrue(length > 100L << 20, "file of " + length + " bytes");
      FileSystem fs = new org.apache.hadoop.fs.Path("s3a://big/").getFileSystem(c);
      org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path("s3a://big/ckpt/"
          + CheckpointStore.stepDir(7) + "/" + CheckpointStore.replicaFile(0, 0,
              "weights.safetensors"));
      assertEquals(length, fs.getFileStatus(file).getLen());
      fs.close();
    }
  }
}
