package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.job.testing.MiniHdfs;
import java.net.URI;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;

/**
 * {@link MetricsLog} on a run directory given as {@code hdfs:///…} (no authority: the cluster's
 * default filesystem), the form deploy/yarn/submit.sh uses. The atomic replace goes through
 * FileContext, which refuses a path without an authority; found by YarnSubmitIT, where every
 * run failed after its first chunk with "Uri without authority".
 */
class MetricsLogTest {
  @Test
  void writesAndResumesInARunDirectoryOnTheDefaultFilesystem() throws Exception {
    try (MiniHdfs hdfs = MiniHdfs.start()) {
      Configuration conf = new Configuration();
      conf.set("fs.defaultFS", hdfs.uri());
      Path runDir = new Path("hdfs:///runs/metrics-log");
      try (FileSystem fs = FileSystem.newInstance(URI.create("hdfs:///"), conf)) {
        MetricsLog log = new MetricsLog(fs, runDir);
        log.afterChunk(List.of("{\"iteration\":0}"), 0, List.of("{\"span\":0}"));
        log.afterChunk(List.of("{\"iteration\":0}", "{\"iteration\":1}"), 1,
            List.of("{\"span\":1}"));
        assertEquals(List.of("{\"iteration\":0}"), new MetricsLog(fs, runDir).resumeAt(1));
        assertEquals(List.of("measured-spans-000000.jsonl"), List.of(fs.listStatus(
            new Path(hdfs.uri() + "/runs/metrics-log/trace"))).stream()
            .map(st -> st.getPath().getName()).toList());
      }
    }
  }
}
