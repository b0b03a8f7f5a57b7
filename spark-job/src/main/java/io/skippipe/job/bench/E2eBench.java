package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.spark.SparkSettings;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/skippipe bench e2e [--json]}: the embedded setup (llama-tiny, emulated laptop-geo-12,
 * local[12]) trained with {@code skippipe} and with {@code dtfm} paths in one Spark session;
 * measured iteration time (mean over iterations after the first) against the simulator's
 * prediction × time scale, their ratio, and the block transfer's loopback throughput against a raw
 * socket.
 */
public final class E2eBench {
  private E2eBench() {}

  public static int run(String[] args, PrintStream out, PrintStream err) {
    boolean json = List.of(args).contains("--json");
    int iterations = 4;
    try {
      TransferBench.Result transfer = TransferBench.run(64, 1 << 20);
      SparkConf conf = SparkSettings.local(new SparkConf().setMaster("local[12]")
          .setAppName("skippipe-bench-e2e"));
      SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
      ObjectMapper mapper = new ObjectMapper();
      ObjectNode root = mapper.createObjectNode();
      root.put("profile", "laptop-geo-12");
      root.put("model", "llama-tiny");
      root.put("iterations", iterations);
      root.put("timeScale", 1.0);
      double[] measured = new double[2];
      try {
        String[] methods = {"skippipe", "dtfm"};
        for (int i = 0; i < 2; i++) {
          Map<String, String> m = new HashMap<>();
          m.put("spark.skippipe.run.dir", "runs/bench-e2e/" + methods[i]);
          m.put("spark.skippipe.plan.method", methods[i]);
          m.put("spark.skippipe.cluster", "laptop-geo-12");
          m.put("spark.skippipe.network.mode", "emulated");
          m.put("spark.skippipe.train.iterations", "" + iterations);
          m.put("spark.skippipe.train.chunkIterations", "" + iterations);
          m.put("spark.skippipe.checkpoint.resume", "false");
          m.put("spark.skippipe.metrics.progress", "false");
          SkipPipeJob.Summary s = SkipPipeJob.run(spark, JobConfig.parse(m), Map.of(),
              new PrintStream(OutputStream.nullOutputStream()));
          measured[i] = s.iterations().stream().skip(1)
              .mapToDouble(RunMetrics.IterationRow::seconds).average().orElse(Double.NaN);
          ObjectNode n = root.putObject(methods[i]);
          n.put("measuredIterationSeconds", measured[i]);
          n.put("predictedIterationSeconds", s.predictedIterationSeconds());
          n.put("measuredOverPredicted", measured[i] / s.predictedIterationSeconds());
          n.put("firstIterationSeconds", s.iterations().get(0).seconds());
        }
      } finally {
        spark.stop();
      }
      root.put("ratio", measured[0] / measured[1]);
      ObjectNode t = root.putObject("transfer");
      t.put("blockMBps", transfer.blockMBps());
      t.put("rawSocketMBps", transfer.rawSocketMBps());
      t.put("fraction", transfer.fraction());
      t.put("bytes", transfer.bytes());
      if (json) {
        out.println(root.toString());
      } else {
        out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root));
      }
      return 0;
    } catch (Exception e) {
      err.println("skippipe bench e2e failed: " + e);
      e.printStackTrace(err);
      return 1;
    }
  }
}
