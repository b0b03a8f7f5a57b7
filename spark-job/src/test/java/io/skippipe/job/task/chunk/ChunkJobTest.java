package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.job.config.JobConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Spark UI names each chunk's job group by its position in the run. */
class ChunkJobTest {
  private static ChunkSpec spec(int chunk, int attempt, int first, int iterations) {
    JobConfig cfg = JobConfig.parse(Map.of("spark.skippipe.train.iterations", "30",
        "spark.skippipe.train.chunkIterations", "10"));
    return new ChunkSpec("run-x", 0L, chunk, attempt, "{}", "h", Map.of(), java.util.Set.of(),
        new byte[0], cfg, cfg.transfer(), "file:///tmp", "file:///tmp/recovery", -1, first,
        iterations, Map.of(), Map.of(), 0L, "{}", Map.of());
  }

  @Test
  void jobGroupNamesChunkOfTotalAndOneBasedIterations() {
    assertEquals("SkipPipe chunk 3/3 \u2014 iterations 21\u201330",
        ChunkJob.jobGroupName(spec(2, 0, 20, 10)));
    assertEquals("SkipPipe chunk 1/3 \u2014 iterations 1\u201310 (attempt 2)",
        ChunkJob.jobGroupName(spec(0, 1, 0, 10)));
  }
}
