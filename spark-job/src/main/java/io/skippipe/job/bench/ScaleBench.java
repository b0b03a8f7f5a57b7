package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.job.task.chunk.ActivationTraffic;
import io.skippipe.model.bench.ResidentMemory;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.profile.ProfileJson;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe bench scale [--json]}: a model preset at its real dimensions (llama-500m by
 * default; shorter sequences) trained in Spark local mode with one replica per stage on a full
 * pipeline, once per precision (fp32, bf16), each in its own JVM so that the peak resident set is
 * that run's alone. Per precision: seconds per iteration (mean after the first), the JVM's peak RSS
 * ({@code VmHWM}: heap, libtorch and Spark together), activation and activation-gradient bytes
 * handed to the block transfer per iteration ({@link ActivationTraffic}), the bytes of one committed
 * checkpoint and the seconds to write it (first CKPT span start to last end), and a resume: the run
 * is submitted again with one more iteration and must continue from its commit.
 *
 * <p>With {@code --json} the last line of standard output is {@code {"runs":[{"precision":…,
 * "secondsPerIteration":…, "peakRssBytes":…, "wireBytesPerIteration":…, "checkpointBytes":…,
 * "checkpointSeconds":…}, …]}}; progress goes to standard error.
 */
@Command(name = "scale", sortOptions = false,
    description = "A model preset at its real dimensions, one replica per stage in local mode:"
        + " seconds per iteration, peak RSS, wire bytes and checkpoint bytes/seconds per precision,"
        + " each precision in its own JVM, plus a resume.")
public final class ScaleBench implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String RESULT = "SCALE_RESULT ";

  @Spec CommandSpec spec;

  @Option(names = "--json", order = 1, description = "End with one JSON object; progress on stderr.")
  boolean json;

  @Option(names = "--model", paramLabel = "M", order = 2,
      description = "Model preset or spec file (default: ${DEFAULT-VALUE}).")
  String model = "llama-500m";

  @Option(names = "--seq-len", paramLabel = "T", order = 3,
      description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
  int seqLen = 128;

  @Option(names = "--samples", paramLabel = "B", order = 4,
      description = "Sequences per microbatch (default: ${DEFAULT-VALUE}).")
  int samples = 1;

  @Option(names = "--microbatches", paramLabel = "N", order = 5,
      description = "Microbatches per iteration (default: ${DEFAULT-VALUE}).")
  int microbatches = 2;

  @Option(names = "--iterations", paramLabel = "N", order = 6,
      description = "Iterations, at least 2; the first is warm-up (default: ${DEFAULT-VALUE}).")
  int iterations = 2;

  @Option(names = "--precisions", paramLabel = "fp32,bf16", split = ",", order = 7,
      description = "Precisions to run, each in its own JVM (default: fp32,bf16).")
  List<String> precisions = List.of("fp32", "bf16");

  @Option(names = "--dir", paramLabel = "DIR", order = 8,
      description = "Where the runs go (default: ${DEFAULT-VALUE}).")
  String dir = "runs/bench-scale";

  @Option(names = "--heap", paramLabel = "SIZE", order = 9,
      description = "-Xmx of each child JVM (default: ${DEFAULT-VALUE}).")
  String heap = "3g";

  /** The benchmark's settings, checked (IllegalArgumentException naming the option). */
  record Options(boolean json, String model, int seqLen, int samples, int microbatches,
      int iterations, List<String> precisions, String dir, String heap) {
    Options {
      for (String p : precisions) {
        if (!p.equals("fp32") && !p.equals("bf16")) {
          throw new IllegalArgumentException("--precisions " + String.join(",", precisions)
              + ": lists fp32 and/or bf16; write e.g. --precisions fp32,bf16");
        }
      }
      if (seqLen < 1 || samples < 1 || microbatches < 1) {
        throw new IllegalArgumentException("--seq-len " + seqLen + ", --samples " + samples
            + " and --microbatches " + microbatches + " must be positive whole numbers");
      }
      if (iterations < 2) {
        throw new IllegalArgumentException("--iterations " + iterations + " must be at least 2"
            + " (the first iteration is warm-up and excluded from the mean); give e.g. 2");
      }
    }

    /** The arguments that reproduce these options for one precision (the child JVM's). */
    List<String> childArgs(String precision) {
      return List.of("--model", model, "--seq-len", "" + seqLen, "--samples", "" + samples,
          "--microbatches", "" + microbatches, "--iterations", "" + iterations, "--precisions",
          precision, "--dir", dir, "--heap", heap);
    }
  }

  Options options() {
    return new Options(json, model, seqLen, samples, microbatches, iterations, precisions, dir,
        heap);
  }

  /** Runs the benchmark: one child JVM per precision; returns the exit code. */
  @Override
  public Integer call() throws Exception {
    Options o = options();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ArrayNode runs = JSON.createArrayNode();
    List<JsonNode> details = new ArrayList<>();
    for (String precision : o.precisions()) {
      JsonNode r = child(o, precision, err);
      details.add(r);
      ObjectNode row = runs.addObject();
      for (String k : List.of("precision", "secondsPerIteration", "peakRssBytes",
          "wireBytesPerIteration", "checkpointBytes", "checkpointSeconds")) {
        row.set(k, r.get(k));
      }
    }
    if (!o.json()) {
      out.printf("bench scale: %s at seqLen %d, %d sample(s) x %d microbatches per iteration,"
          + " one replica per stage, full pipeline, %d iterations + 1 resumed%n", o.model(),
          o.seqLen(), o.samples(), o.microbatches(), o.iterations());
      out.printf("%-9s %10s %10s %14s %12s %10s %8s  %s%n", "precision", "s/iter", "peak RSS",
          "wire B/iter", "ckpt bytes", "ckpt s", "resumed", "losses");
      for (JsonNode r : details) {
        out.printf("%-9s %10.2f %8.2f G %14.0f %10.2f G %10.2f %8s  %s%n",
            r.get("precision").asText(), r.get("secondsPerIteration").asDouble(),
            r.get("peakRssBytes").asDouble() / (1L << 30),
            r.get("wireBytesPerIteration").asDouble(),
            r.get("checkpointBytes").asDouble() / (1L << 30),
            r.get("checkpointSeconds").asDouble(), r.get("resumed").asText(),
            r.get("losses"));
      }
    }
    ObjectNode last = JSON.createObjectNode();
    last.set("runs", runs);
    out.println(last);
    return 0;
  }

  /** Runs one precision in a child JVM with this JVM's flags and class path; returns its result. */
  private static JsonNode child(Options o, String precision, PrintWriter err) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-Xmx") && !a.startsWith("-agentlib") && !a.startsWith("-javaagent")) {
        cmd.add(a);
      }
    }
    cmd.add("-Xmx" + o.heap());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ScaleBench.class.getName());
    cmd.addAll(o.childArgs(precision));
    err.println("bench scale: " + precision + " in a child JVM ...");
    err.flush();
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int code = p.waitFor();
    String result = stdout.lines().filter(l -> l.startsWith(RESULT)).reduce((a, b) -> b)
        .orElse(null);
    if (code != 0 || result == null) {
      throw new IllegalStateException("the " + precision + " run exited with " + code
          + " without a result; its output:\n" + stdout);
    }
    return JSON.readTree(result.substring(RESULT.length()));
  }

  /** Child JVM entry point: one precision (the {@code --precisions} value), result on stdout. */
  public static void main(String[] args) throws Exception {
    Options o = CommandLine.populateCommand(new ScaleBench(), args).options();
    String precision = o.precisions().get(0);
    Path base = Path.of(o.dir()).toAbsolutePath().resolve(precision);
    Files.createDirectories(base);
    ModelSpec preset = Presets.model(o.model());
    ObjectNode model = ProfileJson.toJson(preset);
    model.put("name", o.model() + "-T" + o.seqLen()).put("seqLen", o.seqLen())
        .put("samplesPerMicrobatch", o.samples()).put("microbatchesPerDataNode", o.microbatches());
    int stages = preset.stages();
    Path modelFile = Files.writeString(base.resolve("model.json"), model.toString());
    Path clusterFile = Files.writeString(base.resolve("cluster.json"),
        cluster(stages, o.microbatches()).toString());
    SparkConf conf = SparkSettings.local(new SparkConf().setMaster("local[" + stages + "]")
        .setAppName("skippipe-bench-scale-" + precision));
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    ObjectNode r = JSON.createObjectNode();
    try {
      String runDir = base.resolve("run").toString();
      Map<String, String> keys = new HashMap<>();
      keys.put("spark.skippipe.run.dir", runDir);
      keys.put("spark.skippipe.run.overwrite", "true");
      keys.put("spark.skippipe.model", modelFile.toString());
      keys.put("spark.skippipe.cluster", clusterFile.toString());
      keys.put("spark.skippipe.plan.method", "dtfm");
      keys.put("spark.skippipe.network.mode", "direct");
      keys.put("spark.skippipe.train.precision", precision);
      keys.put("spark.skippipe.train.iterations", "" + o.iterations());
      keys.put("spark.skippipe.train.chunkIterations", "" + o.iterations());
      keys.put("spark.skippipe.transfer.readTimeoutMs", "3600000");
      keys.put("spark.skippipe.metrics.progress", "false");
      PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
      long wire0 = ActivationTraffic.total();
      SkipPipeJob.Summary first = SkipPipeJob.run(spark, JobConfig.parse(keys), Map.of(), quiet);
      long wire = ActivationTraffic.total() - wire0;
      List<RunMetrics.IterationRow> rows = first.iterations();
      r.put("precision", precision);
      r.put("secondsPerIteration", rows.subList(1, rows.size()).stream()
          .mapToDouble(RunMetrics.IterationRow::seconds).average().orElseThrow());
      r.put("wireBytesPerIteration", (double) wire / rows.size());
      Path step = Path.of(runDir, "checkpoints", String.format("step-%06d", o.iterations()));
      r.put("checkpointBytes", bytesUnder(step));
      r.put("checkpointSeconds", checkpointSeconds(Path.of(runDir, "trace")));
      ArrayNode losses = r.putArray("losses");
      rows.forEach(row -> losses.add(row.loss()));
      System.err.printf("bench scale: %s trained %d iterations, checkpointed; resuming%n",
          precision, rows.size());

      // the same run again with one more iteration: it must continue from its commit
      keys.put("spark.skippipe.run.overwrite", "false");
      keys.put("spark.skippipe.train.iterations", "" + (o.iterations() + 1));
      keys.put("spark.skippipe.train.chunkIterations", "1");
      SkipPipeJob.Summary resumed = SkipPipeJob.run(spark, JobConfig.parse(keys), Map.of(),
          quiet);
      if (resumed.firstStep() != o.iterations() || resumed.lastStep() != o.iterations() + 1) {
        throw new IllegalStateException("the resumed run went from step " + resumed.firstStep()
            + " to " + resumed.lastStep() + ", expected " + o.iterations() + " to "
            + (o.iterations() + 1));
      }
      r.put("resumed", "step " + resumed.firstStep() + "->" + resumed.lastStep());
      resumed.iterations().forEach(row -> losses.add(row.loss()));
      r.put("peakRssBytes", ResidentMemory.peakBytes());
    } finally {
      spark.stop();
    }
    deleteTree(base);
    System.out.println(RESULT + r);
    System.out.flush();
    System.exit(0); // Spark's non-daemon threads must not keep the child alive
  }

  /** One location, one node per stage, fast loopback links (network.mode=direct adds no delay). */
  private static ObjectNode cluster(int stages, int memory) {
    ObjectNode c = JSON.createObjectNode();
    c.put("name", "bench-scale-" + stages);
    c.put("description", "one replica per stage on one machine");
    ArrayNode nodes = c.putArray("nodes");
    ArrayNode sizes = c.putArray("stageSizes");
    for (int i = 0; i < stages; i++) {
      nodes.addObject().put("id", i).put("location", "local").put("memoryMicrobatches", memory);
      sizes.add(1);
    }
    c.putArray("links");
    c.putObject("defaultLink").put("latencyMs", 0.1).put("bandwidthGBps", 10.0);
    c.put("hopOverheadSeconds", 0.0);
    c.put("computeSecondsPerSampleLayer", 0.1);
    return c;
  }

  /** Wall time of the checkpoint the first run wrote: first CKPT span start to last CKPT end. */
  private static double checkpointSeconds(Path trace) throws IOException {
    long start = Long.MAX_VALUE;
    long end = Long.MIN_VALUE;
    try (var parts = Files.newDirectoryStream(trace, "measured-spans-*.jsonl")) {
      for (Path part : parts) {
        for (Span s : SpanJson.read(part)) {
          if (s.kind() == Span.Kind.CKPT) {
            start = Math.min(start, s.startMicros());
            end = Math.max(end, s.endMicros());
          }
        }
      }
    }
    if (start > end) {
      throw new IllegalStateException("no checkpoint spans under " + trace);
    }
    return (end - start) / 1e6;
  }

  private static long bytesUnder(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
