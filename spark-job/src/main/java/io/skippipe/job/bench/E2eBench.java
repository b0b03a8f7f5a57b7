package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.profile.ProfileJson;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
 * {@code bin/skippipe bench e2e [--json] [--cluster C] [--model M] [--cost-model M2]
 * [--iterations N] [--time-scale S] [--pad-compute true|false] [--runs R1,R2,...]
 * [--target-loss L] [--seed N]}: one model on one emulated cluster profile, trained once per run
 * ({@code method} or {@code method:pathLength}; default {@code skippipe,dtfm}) in one Spark session
 * ({@code local[nodes]}), the same seed and data for every run: measured iteration and pipeline
 * time (means over iterations after the first) against the simulator's whole-iteration and
 * pipeline predictions × time scale, the loss per wall-second curve and, with {@code
 * --target-loss}, the wall seconds until the loss (mean of the last 3 iterations) first reaches it;
 * and the block transfer's loopback throughput against a raw socket.
 *
 * <p>Emulation fidelity: the cost model gives every node its own device, but here all node task
 * threads share the machine's cores. So by default every forward/backward/loss is padded (a
 * sleep, not a spin) to the profile's modelled duration × {@code timeScale}, every stage
 * all-reduce to the simulator's ring of the plan's gradient bytes × {@code timeScale}, and every
 * message is delayed by the modelled hop × {@code timeScale}. The output counts the compute spans
 * that overran their padded length ({@code padOverruns}): when that is not near 0 the time scale
 * is too small for the machine.
 *
 * <p>{@code --cost-model M2} (e.g. llama-500m) runs the small {@code --model} (e.g. llama-tiny,
 * same number of stages) with M2's costs: the cluster's bandwidths are scaled by M's activation
 * bytes per microbatch over M2's, the compute constant so that a microbatch forward lasts as long
 * as M2's, each data node injects M2's microbatches per iteration, and each stage all-reduces M2's
 * gradient bytes × the same bandwidth factor ({@code gradientBytesPerStage}). So the simulator's
 * times for the emulated plan equal M2's on the cluster, and the padded runtime follows them. The
 * derived profile and model are written to {@code runs/bench-e2e/emulation/}.
 */
@Command(name = "e2e", sortOptions = false, sortSynopsis = false,
    description = "Train one model on one emulated cluster once per run (default skippipe and"
        + " dtfm): measured vs predicted iteration and pipeline time, loss per wall-second, the"
        + " block transfer's throughput.")
public final class E2eBench implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--json", order = 1, description = "Print one JSON object.")
  boolean json;

  @Option(names = "--cluster", paramLabel = "C", order = 2,
      description = "Cluster profile preset or file (default: ${DEFAULT-VALUE}).")
  String cluster = "laptop-geo-12";

  @Option(names = "--model", paramLabel = "M", order = 3,
      description = "Model preset or file that runs (default: ${DEFAULT-VALUE}).")
  String model = "llama-tiny";

  @Option(names = "--cost-model", paramLabel = "M2", order = 4,
      description = "Emulate this model's costs with --model (same stage count), e.g."
          + " llama-500m (default: --model).")
  String costModel;

  @Option(names = "--iterations", paramLabel = "N", order = 5,
      description = "Iterations per run, the first excluded from the means"
          + " (default: ${DEFAULT-VALUE}).")
  int iterations = 4;

  @Option(names = "--time-scale", paramLabel = "S", order = 6,
      description = "Modelled seconds are multiplied by S (default: ${DEFAULT-VALUE}).")
  double timeScale = 10.0;

  @Option(names = "--pad-compute", paramLabel = "true|false", order = 7, arity = "1",
      description = "Pad compute to its modelled time x S (default: ${DEFAULT-VALUE}).")
  boolean padCompute = true;

  @Option(names = "--runs", paramLabel = "R1,R2,...", order = 8, split = ",",
      description = "Runs as METHOD or METHOD:PATH_LENGTH (default: skippipe,dtfm).")
  List<String> runs = List.of("skippipe", "dtfm");

  @Option(names = "--target-loss", paramLabel = "L", order = 9,
      description = "Also report the wall seconds until the loss first reaches L.")
  Double targetLoss;

  @Option(names = "--seed", paramLabel = "N", order = 10,
      description = "Seed of every run (default: ${DEFAULT-VALUE}).")
  long seed = 5;

  /** The benchmark's arguments; defaults are the documented run. */
  record Options(boolean json, String cluster, String model, String costModel, int iterations,
      double timeScale, boolean padCompute, List<String> runs, Double targetLoss, long seed) {
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
      for (String r : runs) {
        String m = r.split(":", 2)[0];
        if (!io.skippipe.scheduler.plan.Methods.NAMES.contains(m)
            || (r.contains(":") && !r.substring(r.indexOf(':') + 1).matches("[1-9][0-9]*"))) {
          throw new ConfigException("--runs", String.join(",", runs), "run '" + r + "' is not"
              + " METHOD or METHOD:PATH_LENGTH", "write e.g. skippipe,dtfm or skippipe:2,skippipe:6");
        }
      }
    }
  }

  /** The validated options of this command line. */
  Options options() {
    return new Options(json, cluster, model, costModel == null ? model : costModel, iterations,
        timeScale, padCompute, runs, targetLoss, seed);
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
    root.put("costModel", o.costModel());
    root.put("iterations", o.iterations());
    root.put("timeScale", o.timeScale());
    root.put("padCompute", o.padCompute());
    root.put("seed", o.seed());
    String[] emulated = emulation(o);
    TransferBench.Result transfer = TransferBench.run(64, 1 << 20);
    int nodes = Presets.cluster(emulated[0]).size();
    root.put("master", "local[" + nodes + "]");
    SparkConf conf = SparkSettings.local(new SparkConf().setMaster("local[" + nodes + "]")
        .setAppName("skippipe-bench-e2e"));
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    ArrayNode runs = root.putArray("runs");
    try {
      for (String r : o.runs()) {
        runs.add(runOnce(spark, o, emulated, r, mapper));
      }
    } finally {
      spark.stop();
    }
    if (runs.size() >= 2) {
      root.put("ratio", ratio(runs, "measuredIterationSeconds"));
      root.put("pipelineRatio", ratio(runs, "measuredPipelineSeconds"));
      root.put("predictedRatio", ratio(runs, "predictedIterationSeconds"));
      root.put("predictedPipelineRatio", ratio(runs, "predictedPipelineSeconds"));
      if (o.targetLoss() != null) {
        root.put("secondsToTargetRatio", ratio(runs, "secondsToTarget"));
      }
    }
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

  /** first run's value / second run's value of a field (e.g. skippipe / dtfm). */
  private static double ratio(ArrayNode runs, String field) {
    return runs.get(0).path(field).asDouble(Double.NaN) / runs.get(1).path(field)
        .asDouble(Double.NaN);
  }

  private static ObjectNode runOnce(SparkSession spark, Options o, String[] emulated, String run,
      ObjectMapper mapper) throws Exception {
    String method = run.split(":", 2)[0];
    String pathLength = run.contains(":") ? run.substring(run.indexOf(':') + 1) : "0";
    Map<String, String> m = new HashMap<>();
    String runDir = "runs/bench-e2e/" + run.replace(':', '-');
    m.put("spark.skippipe.run.dir", runDir);
    m.put("spark.skippipe.seed", "" + o.seed());
    m.put("spark.skippipe.plan.method", method);
    m.put("spark.skippipe.plan.pathLength", pathLength);
    m.put("spark.skippipe.cluster", emulated[0]);
    m.put("spark.skippipe.model", emulated[1]);
    m.put("spark.skippipe.network.mode", "emulated");
    m.put("spark.skippipe.network.timeScale", "" + o.timeScale());
    m.put("spark.skippipe.network.padCompute", "" + o.padCompute());
    m.put("spark.skippipe.train.iterations", "" + o.iterations());
    m.put("spark.skippipe.train.chunkIterations", "" + o.iterations());
    m.put("spark.skippipe.checkpoint.resume", "false");
    m.put("spark.skippipe.metrics.progress", "false");
    SkipPipeJob.Summary s = SkipPipeJob.run(spark, JobConfig.parse(m), Map.of(),
        new PrintStream(OutputStream.nullOutputStream()));
    Plan plan = PlanCodec.read(Path.of(s.runDir()).resolve("plan.json"));
    List<RunMetrics.IterationRow> rows = s.iterations();
    List<RunMetrics.IterationRow> after = rows.subList(1, rows.size());
    double measured = after.stream().mapToDouble(RunMetrics.IterationRow::seconds).average()
        .orElse(Double.NaN);
    double pipeline = after.stream().mapToDouble(RunMetrics.IterationRow::pipelineSeconds)
        .average().orElse(Double.NaN);
    double predicted = plan.iterationSeconds() * o.timeScale();
    double predictedPipeline = plan.pipelineSeconds() * o.timeScale();
    ObjectNode n = mapper.createObjectNode();
    n.put("run", run);
    n.put("method", method);
    n.put("pathLength", plan.constraints().pathLength());
    n.put("measuredIterationSeconds", measured);
    n.put("predictedIterationSeconds", predicted);
    n.put("measuredOverPredicted", measured / predicted);
    n.put("measuredPipelineSeconds", pipeline);
    n.put("predictedPipelineSeconds", predictedPipeline);
    n.put("pipelineOverPredicted", pipeline / predictedPipeline);
    n.put("firstIterationSeconds", rows.get(0).seconds());
    ArrayNode curve = n.putArray("lossCurve");
    double wall = 0;
    double toTarget = Double.NaN;
    int itersToTarget = -1;
    for (int i = 0; i < rows.size(); i++) {
      wall += rows.get(i).seconds();
      curve.addArray().add(Math.round(wall * 1000) / 1000.0)
          .add(Math.round(rows.get(i).loss() * 10000) / 10000.0);
      double mean = 0;
      int k = Math.min(3, i + 1);
      for (int j = i - k + 1; j <= i; j++) {
        mean += rows.get(j).loss() / k;
      }
      if (o.targetLoss() != null && itersToTarget < 0 && mean <= o.targetLoss()) {
        itersToTarget = i + 1;
        toTarget = wall;
      }
    }
    if (o.targetLoss() != null) {
      n.put("targetLoss", o.targetLoss());
      if (itersToTarget > 0) {
        n.put("iterationsToTarget", itersToTarget);
        n.put("secondsToTarget", toTarget);
      }
      n.put("finalLoss", rows.get(rows.size() - 1).loss());
    }
    spanStats(Path.of(s.runDir()), plan, o, rows.size(), n);
    return n;
  }

  /**
   * The cluster and model the runs use: the presets themselves, or — with a different cost model
   * — the derived emulation files (class comment). Returns {cluster, model} as names or paths.
   */
  static String[] emulation(Options o) throws java.io.IOException {
    if (o.costModel().equals(o.model())) {
      return new String[] {o.cluster(), o.model()};
    }
    ClusterProfile base = Presets.cluster(o.cluster());
    ModelSpec exec = Presets.model(o.model());
    ModelSpec cost = Presets.model(o.costModel());
    ClusterProfile p = emulatedCluster(base, exec, cost);
    ModelSpec spec = emulatedModel(exec, cost);
    Path dir = Path.of("runs/bench-e2e/emulation");
    Files.createDirectories(dir);
    Path c = dir.resolve(p.name() + ".json");
    Path m = dir.resolve(spec.name() + ".json");
    Files.writeString(c, ProfileJson.toJson(p).toPrettyString() + "\n");
    Files.writeString(m, ProfileJson.toJson(spec).toPrettyString() + "\n");
    return new String[] {c.toString(), m.toString()};
  }

  /** Bandwidths × exec/cost activation bytes; compute so that a forward lasts cost's. */
  static ClusterProfile emulatedCluster(ClusterProfile p, ModelSpec exec, ModelSpec cost) {
    if (exec.stages() != cost.stages()) {
      throw new ConfigException("--cost-model", cost.name(), "has " + cost.stages()
          + " stages, the executed model " + exec.name() + " has " + exec.stages(),
          "pick a cost model with the same number of stages");
    }
    double r = bandwidthFactor(exec, cost);
    Map<String, Link> links = new LinkedHashMap<>();
    p.links().forEach((k, l) -> links.put(k, new Link(l.latencyMs(), l.bandwidthGBps() * r)));
    double compute = p.computeSecondsPerSampleLayer() * cost.layersPerStage()
        * cost.samplesPerMicrobatch() / (exec.layersPerStage() * exec.samplesPerMicrobatch());
    return new ClusterProfile(p.name() + "-as-" + cost.name(), "Emulation of " + cost.name()
        + " on " + p.name() + " by " + exec.name() + ": bandwidths x " + r + " (activation bytes "
        + exec.activationBytesPerMicrobatch() + " / " + cost.activationBytesPerMicrobatch()
        + "), compute per sample-layer " + compute + " s.", p.nodes(), p.stageSizes(), links,
        new Link(p.defaultLink().latencyMs(), p.defaultLink().bandwidthGBps() * r),
        p.hopOverheadSeconds(), compute, p.linkContention(), p.optimizerSecondsPerParameter());
  }

  /** exec's shape with cost's microbatches per data node and cost's gradient bytes × factor. */
  static ModelSpec emulatedModel(ModelSpec exec, ModelSpec cost) {
    double r = bandwidthFactor(exec, cost);
    List<Long> grads = new ArrayList<>();
    for (int s = 0; s < cost.stages(); s++) {
      grads.add(Math.round(cost.gradientBytesOfStage(s) * r));
    }
    return new ModelSpec(exec.name() + "-as-" + cost.name(), "Executes " + exec.name()
        + " with " + cost.name() + "'s microbatches per data node and all-reduce bytes (x " + r
        + ").", exec.dim(), exec.layers(), exec.heads(), exec.kvHeads(), exec.ffnDim(),
        exec.vocab(), exec.seqLen(), exec.layersPerStage(), exec.samplesPerMicrobatch(),
        cost.microbatchesPerDataNode(), exec.activationBytesPerElement(), grads);
  }

  private static double bandwidthFactor(ModelSpec exec, ModelSpec cost) {
    return (double) exec.activationBytesPerMicrobatch() / cost.activationBytesPerMicrobatch();
  }

  /**
   * Compares the run's measured spans with the simulator's for its plan: the busiest node's
   * compute per iteration (measured: mean over all iterations), and the compute spans that ran
   * longer than their padded length (5% + 2 ms slack: sleep granularity).
   */
  private static void spanStats(Path runDir, Plan plan, Options o, int iterations, ObjectNode n)
      throws java.io.IOException {
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
