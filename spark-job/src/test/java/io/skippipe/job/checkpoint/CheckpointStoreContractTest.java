package io.skippipe.job.checkpoint;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.MiniHdfs;
import io.skippipe.job.testing.MotoS3;
import io.skippipe.job.testing.LogCapture;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** The {@link CheckpointStore} contract on local FS, a real MiniDFSCluster and S3A against moto. */
class CheckpointStoreContractTest {
  abstract static class Contract {
    CheckpointStore store;
    Configuration conf;
    String root;

    abstract String base() throws Exception;

    abstract Configuration conf();

    @BeforeEach
    void open(TestInfo info) throws Exception {
      conf = conf();
      root = base() + "/ckpt-" + info.getTestMethod().orElseThrow().getName() + "-"
          + System.nanoTime();
      store = new HadoopCheckpointStore(root, conf);
    }

    static byte[] bytes(String s) {
      return s.getBytes(StandardCharsets.UTF_8);
    }

    void put(long step, String rel, byte[] content) throws IOException {
      try (OutputStream out = store.create(step, rel)) {
        out.write(content);
      }
    }

    String get(long step, String rel) throws IOException {
      try (InputStream in = store.open(step, rel)) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    }

    void writeStep(long step, String content) throws IOException {
      writeStep(step, content, 2);
    }

    void writeStep(long step, String content, int n) throws IOException {
      for (int stage = 0; stage < n; stage++) {
        for (int replica = 0; replica < n; replica++) {
          put(step, CheckpointStore.replicaFile(stage, replica, "weights.safetensors"),
              bytes(content + "-w-" + stage + "-" + replica));
          put(step, CheckpointStore.replicaFile(stage, replica, "optimizer.bin"),
              bytes(content + "-o"));
        }
      }
      put(step, "driver/notes.json", bytes("{\"step\":" + step + "}"));
    }

    Path file(long step, String rel) {
      return new Path(root + "/" + CheckpointStore.stepDir(step) + "/" + rel);
    }

    /** Replaces a file's bytes behind the store's back (what a disk or a bad copy does). */
    void overwriteRaw(long step, String rel, byte[] content) throws IOException {
      Path p = file(step, rel);
      try (OutputStream out = p.getFileSystem(conf).create(p, true)) {
        out.write(content);
      }
    }

    static final String W = CheckpointStore.replicaFile(0, 0, "weights.safetensors");

    @Test
    void writtenFilesReadBackAndTheCommitRecordsSizesAndChecksums() throws Exception {
      writeStep(120, "a");
      assertEquals("a-w-1-0", get(120, CheckpointStore.replicaFile(1, 0, "weights.safetensors")));
      assertTrue(store.latest(null).isEmpty(), "nothing is trusted before the commit");
      Commit c = store.commit(120, "lineage-1", "plan-abc");
      assertEquals(9, c.files().size(), "sidecars and the marker are not part of the manifest");
      Commit.FileEntry e = c.files().get("stage-01/replica-0/weights.safetensors");
      assertEquals(7L, e.bytes());
      java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
      crc.update(bytes("a-w-1-0"));
      assertEquals(String.format("%08x", crc.getValue()), e.crc32c());
      Commit back = store.readCommit(120).orElseThrow();
      assertEquals(c.files(), back.files());
      assertEquals("plan-abc", back.planHash());
      assertEquals("lineage-1", back.lineage());
      assertEquals(120, store.latest("lineage-1").orElseThrow().step());
      assertTrue(store.latest("another-run").isEmpty(), "commits of other lineages are not ours");
      Path marker = new Path(root + "/step-000120/_COMMITTED");
      assertTrue(marker.getFileSystem(conf).exists(marker), "the marker is at the documented path");
      assertThrows(IllegalStateException.class, () -> store.create(120, W),
          "a committed step is immutable");
    }

    @Test
    void aStepWithoutMarkerIsSkippedWithAWarning() throws Exception {
      writeStep(10, "a", 1);
      store.commit(10, "L", "p");
      writeStep(20, "b", 1); // written, never committed: a chunk that died before its commit
      try (LogCapture log = new LogCapture(HadoopCheckpointStore.class)) {
        assertEquals(10, store.latest("L").orElseThrow().step());
        assertTrue(log.saw("step-000020", "no _COMMITTED"), log.warnings().toString());
      }
      assertEquals(List.of(10L), store.committedSteps());
    }

    /** Commits steps 10 and 30, damages step 30 as {@code damage} says, expects step 10. */
    void fallsBackFrom(String what, ThrowingRunnable damage, String... warning) throws Exception {
      writeStep(10, "a", 1);
      store.commit(10, "L", "p");
      writeStep(30, "c", 1);
      store.commit(30, "L", "p");
      assertEquals(30, store.latest("L").orElseThrow().step());
      damage.run();
      try (LogCapture log = new LogCapture(HadoopCheckpointStore.class)) {
        assertEquals(10, store.latest("L").orElseThrow().step(), what);
        assertTrue(log.saw(warning), what + ": " + log.warnings());
      }
    }

    interface ThrowingRunnable {
      void run() throws Exception;
    }

    @Test
    void flippedBytesFallBackToThePreviousCommit() throws Exception {
      fallsBackFrom("flipped bytes", () -> overwriteRaw(30, W, bytes("c-w-0-1")),
          "step-000030", "weights.safetensors", "CRC32C");
      // reading the damaged file through the store fails too, naming it
      CorruptCheckpointException e = assertThrows(CorruptCheckpointException.class,
          () -> get(30, W));
      assertTrue(e.getMessage().contains("weights.safetensors"), e.getMessage());
    }

    @Test
    void aTruncatedFileFallsBack() throws Exception {
      fallsBackFrom("truncated", () -> overwriteRaw(30, W, bytes("c-w")),
          "step-000030", "weights.safetensors");
    }

    @Test
    void aMissingFileFallsBack() throws Exception {
      fallsBackFrom("missing", () -> file(30, W).getFileSystem(conf).delete(file(30, W), false),
          "step-000030", "weights.safetensors", "missing");
    }

    @Test
    void aMissingMarkerFallsBack() throws Exception {
      fallsBackFrom("missing marker", () -> file(30, CheckpointStore.COMMITTED)
          .getFileSystem(conf).delete(file(30, CheckpointStore.COMMITTED), false),
          "step-000030", "no _COMMITTED");
    }

    @Test
    void aGarbageMarkerFallsBack() throws Exception {
      fallsBackFrom("garbage marker", () -> overwriteRaw(30, CheckpointStore.COMMITTED,
          bytes("{not json")), "step 30", "cannot be read");
    }

    @Test
    void aFileWrittenAroundTheStoreCannotBeCommitted() throws Exception {
      writeStep(5, "x", 1);
      overwriteRaw(5, "stage-00/replica-0/extra.bin", bytes("no sidecar"));
      IOException e = assertThrows(IOException.class, () -> store.commit(5, "L", "p"));
      assertTrue(e.getMessage().contains("extra.bin"), e.getMessage());
    }

    @Test
    void retentionKeepsTheNewestTwoOfTheLineageAndNothingElseOfOthers() throws Exception {
      writeStep(100, "other run", 1);
      store.commit(100, "OTHER", "p");
      for (long s = 1; s <= 4; s++) {
        writeStep(s, "s" + s, 1);
        store.commit(s, "L", "p");
      }
      writeStep(3_000, "in-progress", 1); // newer than the newest commit: may be in flight, kept
      assertThrows(IllegalArgumentException.class, () -> store.retain("L", 1));
      assertEquals(List.of(1L, 2L), store.retain("L", 2));
      assertEquals(List.of(3L, 4L, 100L), store.committedSteps());
      assertEquals(4, store.latest("L").orElseThrow().step(),
          "the other lineage's higher step is not the current run's newest");
      assertEquals("in-progress-o", get(3_000, CheckpointStore.replicaFile(0, 0, "optimizer.bin")));
      assertEquals(4, store.deleteAll(), "steps 3, 4, 100 and the uncommitted 3000");
      assertEquals(List.of(), store.committedSteps());
    }

    @Test
    void emptyStoreHasNoLatestAndCommittingNothingFails() throws Exception {
      assertEquals(Optional.empty(), store.latest(null));
      assertEquals(List.of(), store.committedSteps());
      assertThrows(IOException.class, () -> store.commit(5, "L", "p"));
    }

    @Test
    void aSecondStoreOnTheSameRootSeesTheCommit() throws Exception {
      writeStep(7, "z");
      store.commit(7, "L", "hash-7");
      CheckpointStore other = new HadoopCheckpointStore(root, conf);
      assertEquals("hash-7", other.latest("L").orElseThrow().planHash());
      assertEquals("z-w-0-1", new String(other.open(7, CheckpointStore.replicaFile(0, 1,
          "weights.safetensors")).readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  @Nested
  class LocalFs extends Contract {
    @Override
    String base() {
      return new java.io.File("target/checkpoint-contract").getAbsolutePath();
    }

    @Override
    Configuration conf() {
      return HadoopConfs.current();
    }

    /**
     * Hadoop's local filesystem keeps {@code .crc} sidecars of its own: bytes flipped on disk (not
     * through Hadoop) make it throw a ChecksumException, which must also mean "fall back", not
     * "refuse the run".
     */
    @Test
    void bytesFlippedOnDiskUnderHadoopsOwnChecksumsFallBack() throws Exception {
      fallsBackFrom("flipped on disk", () -> {
        java.nio.file.Path f = java.nio.file.Paths.get(file(30, W).toUri().getPath());
        byte[] b = java.nio.file.Files.readAllBytes(f);
        b[0] ^= 1;
        java.nio.file.Files.write(f, b);
      }, "step-000030", "weights.safetensors");
    }
  }

  static MiniHdfs hdfs;
  static MotoS3 moto;

  @Nested
  class Hdfs extends Contract {
    @Override
    String base() throws Exception {
      synchronized (CheckpointStoreContractTest.class) {
        if (hdfs == null) {
          hdfs = MiniHdfs.start();
        }
      }
      return hdfs.uri() + "/runs";
    }

    @Override
    Configuration conf() {
      return HadoopConfs.current();
    }
  }

  @Nested
  class S3a extends Contract {
    @Override
    String base() throws Exception {
      synchronized (CheckpointStoreContractTest.class) {
        if (moto == null) {
          moto = MotoS3.start();
          moto.createBucket("skippipe");
        }
      }
      return "s3a://skippipe/runs";
    }

    @Override
    Configuration conf() {
      try {
        base();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      Configuration c = HadoopConfs.current(moto.hadoopConf());
      c.setBoolean("fs.s3a.impl.disable.cache", true);
      return c;
    }
  }

  @AfterAll
  static void stop() {
    if (hdfs != null) {
      hdfs.close();
      hdfs = null;
    }
    if (moto != null) {
      moto.close();
      moto = null;
    }
    try {
      FileSystem.closeAll();
    } catch (IOException e) {
      // test teardown
    }
  }
}
