package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.testing.LocalSparkExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10: the same input and settings give byte-identical shards in {@code local[1]}, {@code
 * local[4]} and {@code local-cluster[2,1,1024]} (two executor JVMs; on main, records reached a
 * shard in shuffle-arrival order there). The input has many splits, paragraphs and JSON records
 * across split boundaries, and several files.
 */
class DataPrepDeterminismTest {
  @TempDir Path tmp;

  @Test
  void shardsAreByteIdenticalOnAnyNumberOfExecutors() throws Exception {
    Path input = tmp.resolve("input");
    Files.createDirectories(input.resolve("more"));
    Random r = new Random(9);
    for (String f : List.of("a.txt", "b.txt", "more/c.txt")) {
      StringBuilder b = new StringBuilder();
      for (int p = 0; p < 150; p++) {
        for (int l = r.nextInt(1, 5); l > 0; l--) {
          b.append("Line ").append(p).append(" of ").append(f).append(" with")
              .append(" words".repeat(r.nextInt(1, 12))).append('\n');
        }
        b.append('\n');
      }
      Files.writeString(input.resolve(f), b.toString());
    }
    Map<String, byte[]> reference = null;
    Map<String, LocalSparkExtension> masters = Map.of("local-1", LocalSparkExtension.local(1),
        "local-4", LocalSparkExtension.local(4), "local-cluster-2", LocalSparkExtension
            .localCluster(2, 1));
    for (String name : List.of("local-1", "local-4", "local-cluster-2")) {
      LocalSparkExtension master = masters.get(name);
      Path run = tmp.resolve("run-" + name);
      JobConfig cfg = JobConfig.parse(Map.of("spark.skippipe.run.dir", run.toString(),
          "spark.skippipe.data.input", input.toString(),
          "spark.skippipe.data.textDocument", "paragraph",
          "spark.skippipe.data.splitBytes", "4096"));
      master.beforeAll(null);
      DataPrep.Result res;
      try {
        res = DataPrep.prepare(master.session(), cfg, List.of(0, 3, 7), 32, 1024, Map.of());
      } finally {
        master.afterAll(null);
      }
      Map<String, byte[]> files = files(run);
      assertTrue(files.keySet().stream().filter(k -> k.startsWith("data/node-")).count() > 10,
          files.keySet().toString());
      assertEquals(450, res.stats().documents());
      if (reference == null) {
        reference = files;
      } else {
        assertEquals(reference.keySet(), files.keySet(), name);
        for (String k : reference.keySet()) {
          assertArrayEquals(reference.get(k), files.get(k), k + " on " + name);
        }
      }
    }
  }

  /** Every file under the run directory (relative path → bytes); Hadoop's .crc files aside. */
  static Map<String, byte[]> files(Path run) throws Exception {
    Map<String, byte[]> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(run)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        if (!p.getFileName().toString().endsWith(".crc")) {
          out.put(run.relativize(p).toString(), Files.readAllBytes(p));
        }
      }
    }
    return out;
  }
}
