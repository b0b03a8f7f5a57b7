package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.job.trace.RunTrace;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.Span;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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
@Command(name = "e2e", sortOptions = false, sortSynopsis = false,
    description = "Train one model on one emulated cluster with skippipe and with dtfm paths; "
        + "measured vs predicted iteration time and the block transfer's throughput.")
public final class E2eBench implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--json", order = 1, description = "Print one JSON object.")
  boolean json;

  @Option(names = "--cluster", paramLabel = "C", order = 2,
      description = "Cluster profile preset or file (default: ${DEFAULT-VALUE}).")
  String cluster = "laptop-geo-12";

  @Option(names = "--model", paramLabel = "M", order = 3,
      description = "Model preset or file (default: ${DEFAULT-VALUE}).")
  String model = "llama-tiny";

  @Option(names = "--iterations", paramLabel = "N", order = 4,
      description = "Iterations per method, the first excluded from the mean "
          + "(default: ${DEFAULT-VALUE}).")
  int iterations = 4;

  @Option(names = "--time-scale", paramLabel = "S", order = 5,
      description = "Modelled seconds are multiplied by S (default: ${DEFAULT-VALUE}).")
  double timeScale = 10.0;

  @Option(names = "--pad-compute", paramLabel = "true|false", order = 6, arity = "1",
      description = "Pad compute to its modelled time x S (default: ${DEFAULT-VALUE}).")
  boolean padCompute = true;

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
  }

  /** The validated options of this command line. */
  Options options() {
    return new Options(json, cluster, model, iterations, timeScale, padCompute);
  }

  @Override
  public Integer call() throws Exception {
    return run(options(), spec.commandLine().getOut());
  }

  /** Runs the benchmark; returns the exit code. */
  static int run(Options o, PrintWriter out) throws Exception {
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
    org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(runDir.toUri());
    for (Span sp : RunTrace.spans(dir.getFileSystem(HadoopConfs.current()), dir)) {
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
