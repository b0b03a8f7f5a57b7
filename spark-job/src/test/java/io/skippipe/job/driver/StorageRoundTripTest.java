package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.MiniHdfs;
import io.skippipe.job.testing.MotoS3;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.PlanCodec;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole job against remote storage: input text, plan.json, data shards, checkpoints, metrics
 * and the resume all on a real MiniDFSCluster and on S3A against moto.
 */
class StorageRoundTripTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(6);
  static MiniHdfs hdfs;
  static MotoS3 moto;

  @BeforeAll
  static void start() throws Exception {
    hdfs = MiniHdfs.start();
    moto = MotoS3.start();
    moto.createBucket("skippipe");
    Configuration sc = spark.session().sparkContext().hadoopConfiguration();
    moto.hadoopConf().forEach(sc::set);
  }

  @AfterAll
  static void stop() throws Exception {
    hdfs.close();
    moto.close();
    FileSystem.closeAll();
  }

  @Test
  void trainsAndResumesOnHdfs() throws Exception {
    roundTrip(hdfs.uri() + "/runs/r1", Map.of());
  }

  @Test
  void trainsAndResumesOnS3a() throws Exception {
    roundTrip("s3a://skippipe/runs/r1", moto.hadoopConf());
  }

  void roundTrip(String base, Map<String, String> hadoop) throws Exception {
    Configuration conf = HadoopConfs.current(hadoop);
    write(base + "/input.txt", text(), conf);
    write(base + "/plan.json", PlanCodec.toJsonString(TestPlans.skippipe()), conf);
    Map<String, String> m = new HashMap<>();
    m.put("spark.skippipe.run.dir", base + "/run");
    m.put("spark.skippipe.plan.file", base + "/plan.json");
    m.put("spark.skippipe.data.input", base + "/input.txt");
    m.put("spark.skippipe.network.mode", "direct");
    m.put("spark.skippipe.train.iterations", "2");
    m.put("spark.skippipe.train.chunkIterations", "1");
    m.put("spark.skippipe.metrics.progress", "false");
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    SkipPipeJob.Summary first = SkipPipeJob.run(spark.session(), JobConfig.parse(m), hadoop, quiet);
    assertEquals(0, first.firstStep());
    assertEquals(2, first.lastStep());
    assertTrue(first.checkpoint().endsWith("step-000002"), first.checkpoint());
    for (String f : new String[] {"plan.json", "tokenizer.json", "data/shards.json",
        "data/node-0/part-00000.bin", "data/node-1/part-00000.bin",
        "metrics/iterations.jsonl", "trace/measured-spans-000000.jsonl",
        "trace/measured-spans-000001.jsonl", "run.json", "checkpoints/step-000002/_COMMITTED",
        "checkpoints/step-000002/stage-02/replica-0/weights.safetensors"}) {
      Path p = new Path(HadoopConfs.toUri(base + "/run/" + f));
      assertTrue(p.getFileSystem(conf).exists(p), "missing " + p);
    }
    m.put("spark.skippipe.train.iterations", "3");
    SkipPipeJob.Summary second = SkipPipeJob.run(spark.session(), JobConfig.parse(m), hadoop,
        quiet);
    assertEquals(2, second.firstStep(), "the second run resumes from the committed step 2");
    assertEquals(3, second.lastStep());
    assertEquals(1, second.iterations().size());
    assertTrue(Double.isFinite(second.iterations().get(0).loss()));
  }

  static String text() {
    String[] words = {"the", "lord", "said", "unto", "moses", "and", "it", "came", "to", "pass",
        "that", "in", "beginning", "light", "was", "good", "earth", "heaven"};
    Random r = new Random(5);
    StringBuilder b = new StringBuilder();
    for (int line = 0; line < 200; line++) {
      for (int w = 0; w < 20; w++) {
        b.append(words[r.nextInt(words.length)]).append(' ');
      }
      b.append('\n');
    }
    return b.toString();
  }

  static void write(String uri, String text, Configuration conf) throws Exception {
    Path p = new Path(HadoopConfs.toUri(uri));
    try (OutputStream o = p.getFileSystem(conf).create(p, true)) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }
}
