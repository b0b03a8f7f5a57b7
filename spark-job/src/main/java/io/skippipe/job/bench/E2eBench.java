package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/skippipe bench e2e [--json] [--cluster C] [--model M] [--iterations N]
 * [--time-scale S] [--pad-compute true|false]}: one model on one emulated cluster profile, trained
 * with {@code skippipe} and with {@code dtfm} paths in one Spark session ({@code local[nodes]});
 * measured iteration time (mean over iterations after the first) against the simulator's
 * prediction × time scale, their ratio, and the block transfer's loopback throughput against a raw
 * socket.
 *
 * <p>Emulation fidelity: the cost model gives every node its own device, but here all node task
 * threads share the machine's cores. So by default every forward/backward/loss is padded (a
 * sleep, not a spin) to the profile's modelled duration × {@code timeScale}, and every message is
 * delayed by the modelled hop × {@code timeScale}; with a time scale at which a modelled task is
 * much longer than the real one under contention, real compute is not what is measured. The
 * output counts the compute spans that overran their padded length ({@code padOverruns}): when
 * that is not near 0 the time scale is too small for the machine.
 */
public final class E2eBench {
  private E2eBench() {}

  /** The benchmark's arguments; defaults are the documented run. */
  record Options(boolean json, String cluster, String model, int iterations, double timeScale,
      boolean padCompute) {
    Options {
      if (iterations < 2) {
        throw new ConfigException("--iterations", "" + iterations,
            "must be at least 2 (the first iteration is warm-up and excluded from the mean)",
            "give e.g. --iterations 4");
      }
      if (!(timeScale > 0) || !Double.isFinite(timeScale)) {
        throw new ConfigException("--time-scale", "" + timeScale, "must be a positive number",
            "give e.g. --time-scale 10 (modelled seconds are multiplied by it)");
      }
    }

    static Options parse(String[] args) {
      boolean json = false;
      String cluster = "laptop-geo-12";
      String model = "llama-tiny";
      int iterations = 4;
      double timeScale = 10.0;
      boolean pad = true;
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (i == 0 && a.equals("e2e")) {
          continue;
        }
        if (a.equals("--json")) {
          json = true;
          continue;
        }
        if (!List.of("--cluster", "--model", "--iterations", "--time-scale", "--pad-compute")
            .contains(a)) {
          throw new ConfigException(a, a, "is not an option of bench e2e",
              "use --json, --cluster C, --model M, --iterations N, --time-scale S,"
                  + " --pad-compute true|false");
        }
        if (i + 1 >= args.length) {
          throw new ConfigException(a, "", "needs a value", "write " + a + " VALUE");
        }
        String v = args[++i];
        try {
          switch (a) {
            case "--cluster" -> cluster = v;
            case "--model" -> model = v;
            case "--iterations" -> iterations = Integer.parseInt(v);
            case "--time-scale" -> timeScale = Double.parseDouble(v);
            default -> {
              if (!v.equals("true") && !v.equals("false")) {
                throw new ConfigException(a, v, "must be true or false",
                    "write --pad-compute true (the faithful emulation) or false (real compute)");
              }
              pad = Boolean.parseBoolean(v);
            }
          }
        } catch (NumberFormatException e) {
          throw new ConfigException(a, v, "must be a number", "write e.g. " + a
              + (a.equals("--iterations") ? " 4" : " 10"));
        }
      }
      return new Options(json, cluster, model, iterations, timeScale, pad);
    }
  }

  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options o;
    try {
      o = Options.parse(args);
    } catch (ConfigException e) {
      err.println("skippipe bench e2e: " + e.getMessage());
      return 2;
    }
    try {
      ObjectMapper mapper = new ObjectMapper();
      ObjectNode root = mapper.createObjectNode();
      root.put("profile", o.cluster());
      root.put("model", o.model());
      root.put("iterations", o.iterations());
      root.put("timeScale", o.timeScale());
      root.put("padCompute", o.padCompute());
      TransferBench.Result transfer = TransferBench.run(64, 1 << 20);
      int nodes = io.skippipe.scheduler.profile.Presets.cluster(o.cluster()).size();
      root.put("master", "local[" + nodes + "]");
      SparkConf conf = SparkSettings.local(new SparkConf().setMaster("local[" + nodes + "]")
          .setAppName("skippipe-bench-e2e"));
      SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
      double[] measured = new double[2];
      try {
        String[] methods = {"skippipe", "dtfm"};
        for (int i = 0; i < 2; i++) {
          Map<String, String> m = new HashMap<>();
          String runDir = "runs/bench-e2e/" + methods[i];
          m.put("spark.skippipe.run.dir", runDir);
          m.put("spark.skippipe.plan.method", methods[i]);
          m.put("spark.skippipe.cluster", o.cluster());
          m.put("spark.skippipe.model", o.model());
          m.put("spark.skippipe.network.mode", "emulated");
          m.put("spark.skippipe.network.timeScale", "" + o.timeScale());
          m.put("spark.skippipe.network.padCompute", "" + o.padCompute());
          m.put("spark.skippipe.train.iterations", "" + o.iterations());
          m.put("spark.skippipe.train.chunkIterations", "" + o.iterations());
          m.put("spark.skippipe.checkpoint.resume", "false");
          m.put("spark.skippipe.metrics.progress", "false");
          SkipPipeJob.Summary s = SkipPipeJob.run(spark, JobConfig.parse(m), Map.of(),
              new PrintStream(OutputStream.nullOutputStream()));
          List<RunMetrics.IterationRow> after = s.iterations().subList(1, s.iterations().size());
          measured[i] = after.stream().mapToDouble(RunMetrics.IterationRow::seconds).average()
              .orElse(Double.NaN);
          double pipeline = after.stream().mapToDouble(RunMetrics.IterationRow::pipelineSeconds)
              .average().orElse(Double.NaN);
          double predicted = s.predictedIterationSeconds() * o.timeScale();
          ObjectNode n = root.putObject(methods[i]);
          n.put("measuredIterationSeconds", measured[i]);
          n.put("predictedIterationSeconds", predicted);
          n.put("measuredOverPredicted", measured[i] / predicted);
          n.put("measuredPipelineSeconds", pipeline);
          n.put("pipelineOverPredicted", pipeline / predicted);
          n.put("firstIterationSeconds", s.iterations().get(0).seconds());
          spanStats(Path.of(s.runDir()), o, s.iterations().size(), n);
        }
      } finally {
        spark.stop();
      }
      root.put("ratio", measured[0] / measured[1]);
      root.put("pipelineRatio", root.get("skippipe").get("measuredPipelineSeconds").asDouble()
          / root.get("dtfm").get("measuredPipelineSeconds").asDouble());
      root.put("predictedRatio", root.get("skippipe").get("predictedIterationSeconds").asDouble()
          / root.get("dtfm").get("predictedIterationSeconds").asDouble());
      ObjectNode t = root.putObject("transfer");
      t.put("blockMBps", transfer.blockMBps());
      t.put("rawSocketMBps", transfer.rawSocketMBps());
      t.put("fraction", transfer.fraction());
      t.put("bytes", transfer.bytes());
      if (o.json()) {
        out.println(root.toString());
      } else {
        out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root));
      }
      return 0;
    } catch (ConfigException | io.skippipe.scheduler.plan.PlanningException e) {
      err.println("skippipe bench e2e: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      err.println("skippipe bench e2e failed: " + e);
      e.printStackTrace(err);
      return 1;
    }
  }

  /**
   * Compares the run's measured spans with the simulator's for its plan: the busiest node's
   * compute per iteration (measured: mean over all iterations), and the compute spans that ran
   * longer than their padded length (5% + 2 ms slack: sleep granularity).
   */
  private static void spanStats(Path runDir, Options o, int iterations, ObjectNode n)
      throws java.io.IOException {
    Plan plan = PlanCodec.read(runDir.resolve("plan.json"));
    CostModel costs = CostModel.of(plan.cluster(), plan.model());
    SimulationResult sim = Simulator.run(plan);
    long[] simBusy = new long[plan.nodeCount()];
    for (Span sp : sim.spans()) {
      if (sp.isCompute()) {
        simBusy[sp.node()] += sp.durationMicros();
      }
    }
    long[] busy = new long[plan.nodeCount()];
    int compute = 0;
    int overruns = 0;
    List<Span> measured = new ArrayList<>();
    try (var parts = Files.newDirectoryStream(runDir.resolve("trace"), "measured-spans-*.jsonl")) {
      for (Path part : parts) {
        measured.addAll(SpanJson.read(part));
      }
    }
    for (Span sp : measured) {
      if (!sp.isCompute()) {
        continue;
      }
      busy[sp.node()] += sp.durationMicros();
      compute++;
      long modelled = switch (sp.kind()) {
        case FWD -> costs.forwardMicros(sp.node());
        case BWD -> costs.backwardMicros(sp.node());
        default -> costs.lossMicros(sp.node());
      };
      if (o.padCompute() && sp.durationMicros() > modelled * o.timeScale() * 1.05 + 2_000) {
        overruns++;
      }
    }
    long maxSim = 0;
    long maxMeasured = 0;
    for (int x = 0; x < busy.length; x++) {
      maxSim = Math.max(maxSim, simBusy[x]);
      maxMeasured = Math.max(maxMeasured, busy[x]);
    }
    n.put("predictedBusiestNodeComputeSeconds", maxSim * o.timeScale() / 1e6);
    n.put("measuredBusiestNodeComputeSeconds", maxMeasured / 1e6 / iterations);
    n.put("computeSpans", compute);
    if (o.padCompute()) {
      n.put("padOverruns", overruns);
    }
  }
}
