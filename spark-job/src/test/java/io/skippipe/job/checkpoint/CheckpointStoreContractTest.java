package io.skippipe.job.checkpoint;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.MiniHdfs;
import io.skippipe.job.testing.MotoS3;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
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

    void writeStep(long step, String content) throws IOException {
      writeStep(step, content, 2);
    }

    void writeStep(long step, String content, int n) throws IOException {
      for (int stage = 0; stage < n; stage++) {
        for (int replica = 0; replica < n; replica++) {
          store.write(step, stage, replica, "weights.safetensors",
              bytes(content + "-w-" + stage + "-" + replica));
          store.write(step, stage, replica, "optimizer.bin", bytes(content + "-o"));
        }
      }
      store.writeDriverFile(step, "cursor.json", bytes("{\"step\":" + step + "}"));
    }

    @Test
    void writtenFilesReadBackAndCommitRecordsTheirSizes() throws Exception {
      writeStep(120, "a");
      assertEquals("a-w-1-0", new String(store.read(120, 1, 0, "weights.safetensors"),
          StandardCharsets.UTF_8));
      assertEquals("{\"step\":120}", new String(store.readDriverFile(120, "cursor.json"),
          StandardCharsets.UTF_8));
      assertTrue(store.latest().isEmpty(), "nothing is trusted before the commit");
      Commit c = store.commit(120, "plan-abc");
      assertEquals(9, c.fileSizes().size());
      assertEquals(7L, c.fileSizes().get("stage-01/replica-0/weights.safetensors"));
      assertTrue(c.fileSizes().containsKey("driver/cursor.json"));
      Commit back = store.readCommit(120).orElseThrow();
      assertEquals(c.fileSizes(), back.fileSizes());
      assertEquals("plan-abc", back.planHash());
      assertEquals(120, store.latest().orElseThrow().step());
      Path marker = new Path(root + "/step-000120/_COMMITTED");
      assertTrue(marker.getFileSystem(conf).exists(marker), "the marker is at the documented path");
    }

    @Test
    void latestTrustsOnlyCommittedAndCompleteSteps() throws Exception {
      writeStep(10, "a", 1);
      store.commit(10, "p");
      writeStep(20, "b", 1); // written, never committed: a chunk that died before its commit
      assertEquals(10, store.latest().orElseThrow().step());
      writeStep(30, "c", 1);
      store.commit(30, "p");
      assertEquals(30, store.latest().orElseThrow().step());
      // a committed step whose file was truncated afterwards is not trusted
      store.write(30, 0, 0, "weights.safetensors", bytes("x"));
      assertEquals(10, store.latest().orElseThrow().step());
      assertEquals(List.of(10L, 30L), store.committedSteps());
    }

    @Test
    void retentionKeepsTheNewestTwoAndRemovesLeftovers() throws Exception {
      for (long s = 1; s <= 4; s++) {
        writeStep(s, "s" + s, 1);
        store.commit(s, "p");
      }
      writeStep(3_000, "in-progress", 1); // newer than the newest commit: may be in flight, kept
      assertThrows(IllegalArgumentException.class, () -> store.retain(1));
      assertEquals(List.of(1L, 2L), store.retain(2));
      assertEquals(List.of(3L, 4L), store.committedSteps());
      assertEquals(4, store.latest().orElseThrow().step());
      assertEquals("in-progress-o", new String(store.read(3_000, 0, 0, "optimizer.bin"),
          StandardCharsets.UTF_8));
    }

    @Test
    void emptyStoreHasNoLatestAndCommittingNothingFails() throws Exception {
      assertEquals(Optional.empty(), store.latest());
      assertEquals(List.of(), store.committedSteps());
      assertThrows(IOException.class, () -> store.commit(5, "p"));
    }

    @Test
    void aSecondStoreOnTheSameRootSeesTheCommit() throws Exception {
      writeStep(7, "z");
      store.commit(7, "hash-7");
      CheckpointStore other = new HadoopCheckpointStore(root, conf);
      assertEquals("hash-7", other.latest().orElseThrow().planHash());
      assertEquals("z-w-0-1", new String(other.read(7, 0, 1, "weights.safetensors"),
          StandardCharsets.UTF_8));
    }
  }

  @Nested
  class LocalFs extends Contract {
    @Override
    String base() {
      return "target/checkpoint-contract";
    }

    @Override
    Configuration conf() {
      return HadoopConfs.current();
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
