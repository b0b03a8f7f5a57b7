package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.DataPrep;
import io.skippipe.job.driver.JobPlanning;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.model.bench.ResidentMemory;
import io.skippipe.model.data.Corpus;
import io.skippipe.scheduler.plan.Plan;
import java.io.BufferedWriter;
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
import java.util.concurrent.Callable;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe bench data [--json] [--gigabytes G] [--small-gigabytes S] [--cores 1,2]
 * [--long-line-megabytes M] [--heap-megabytes H] [--dir DIR]}: data preparation at scale.
 *
 * <p>Writes a corpus of {@code G} GB of text into a temporary directory (never into the project;
 * deleted at the end): paragraphs of lines drawn with a fixed seed from the bundled corpus, in
 * files of 256 MiB. Prepares it, and its first {@code S} GB, in {@code local[c]} for every
 * {@code c} of {@code --cores}, each in a fresh JVM with a heap of {@code H} MB, and reports wall
 * time, tokens per second, the JVM's peak resident memory ({@code VmHWM}: heap, native tokenizer,
 * Spark — driver and executor are one process in local mode) and peak heap; the difference
 * between 1 and 2 cores is what one more concurrent task adds. Then trains one chunk (2 iterations
 * of llama-tiny on laptop-geo-12, {@code network.mode=direct}) on the shards of the largest
 * preparation, and prepares and trains a file of one {@code M} MB line (issue 15's long line).
 * The tokenizer is the bundled one, trained on the text the corpus is drawn from, so tokens per
 * byte are lower than on foreign text.
 */
@Command(name = "data", sortOptions = false, sortSynopsis = false,
    description = "Data preparation at scale: a generated corpus of G GB prepared in local[C]"
        + " per --cores, each in a fresh JVM; wall time, tokens/s, peak memory; then one chunk of"
        + " training on the shards, and a one-line file of M MB.")
public final class DataBench implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long FILE_BYTES = 256L << 20;

  /** The benchmark's arguments. */
  record Options(boolean json, double gigabytes, double smallGigabytes, List<Integer> cores,
      int longLineMegabytes, int heapMegabytes, Path dir) {
    Options {
      if (!(gigabytes > 0) || !(smallGigabytes > 0) || smallGigabytes > gigabytes
          || cores.isEmpty() || cores.stream().anyMatch(c -> c < 1) || longLineMegabytes < 0
          || heapMegabytes < 256) {
        throw new ConfigException("--gigabytes", gigabytes + "/" + smallGigabytes, "needs 0 <"
            + " small <= gigabytes, cores >= 1, long line >= 0 MB and heap >= 256 MB",
            "use e.g. --gigabytes 2 --small-gigabytes 0.5 --cores 1,2");
      }
    }
  }

  @Spec CommandSpec spec;

  @Option(names = "--json", order = 1, description = "Print one JSON object at the end.")
  boolean json;

  @Option(names = "--gigabytes", paramLabel = "G", order = 2,
      description = "Corpus size to generate and prepare (default: ${DEFAULT-VALUE}).")
  double gigabytes = 2.0;

  @Option(names = "--small-gigabytes", paramLabel = "S", order = 3,
      description = "The smaller preparation: the corpus's first S GB (default: ${DEFAULT-VALUE}).")
  double smallGigabytes = 0.5;

  @Option(names = "--cores", paramLabel = "C,C,...", split = ",", order = 4,
      description = "local[C] for each preparation (default: 1,2).")
  List<Integer> cores = List.of(1, 2);

  @Option(names = "--long-line-megabytes", paramLabel = "M", order = 5,
      description = "Also prepare and train on one line of M MB; 0 = skip"
          + " (default: ${DEFAULT-VALUE}).")
  int longLineMegabytes = 200;

  @Option(names = "--heap-megabytes", paramLabel = "H", order = 6,
      description = "Heap of each child JVM (default: ${DEFAULT-VALUE}).")
  int heapMegabytes = 1024;

  @Option(names = "--dir", paramLabel = "DIR", order = 7,
      description = "Where the temporary corpus goes (default: java.io.tmpdir).")
  Path dir = Path.of(System.getProperty("java.io.tmpdir"));

  /** The child mode: {@code --child prepare|train INPUT RUN_DIR CORES} (run by the bench). */
  @Option(names = "--child", hidden = true, arity = "4")
  List<String> child;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (child != null) {
      return child(child, out);
    }
    return run(new Options(json, gigabytes, smallGigabytes, cores, longLineMegabytes,
        heapMegabytes, dir), out);
  }

  /** Runs the benchmark; returns the exit code. */
  static int run(Options o, PrintWriter out) throws IOException, InterruptedException {
    Path work = null;
    try {
      work = Files.createTempDirectory(o.dir(), "skippipe-bench-data-");
      ObjectNode root = JSON.createObjectNode();
      root.put("machineCores", Runtime.getRuntime().availableProcessors());
      // the children inherit it; separate arenas per task thread matter (docs/OPERATIONS.md §5)
      root.put("mallocArenaMax", String.valueOf(System.getenv("MALLOC_ARENA_MAX")));
      root.put("heapMegabytes", o.heapMegabytes());
      long t0 = System.nanoTime();
      List<Path> files = corpus(work.resolve("corpus"), (long) (o.gigabytes() * (1L << 30)));
      root.put("generateSeconds", (System.nanoTime() - t0) / 1e9);
      int smallFiles = (int) Math.max(1, Math.round(o.smallGigabytes() * (1L << 30) / FILE_BYTES));
      ArrayNode runs = root.putArray("prepare");
      String lastRun = null;
      String lastInput = null;
      for (int n : new int[] {Math.min(smallFiles, files.size()), files.size()}) {
        String input = glob(files.subList(0, n));
        long bytes = 0;
        for (Path f : files.subList(0, n)) {
          bytes += Files.size(f);
        }
        for (int c : o.cores()) {
          String runDir = work.resolve("run-" + n + "-" + c).toString();
          ObjectNode r = childRun(o, "prepare", input, runDir, c);
          r.put("corpusBytes", bytes);
          r.put("files", n);
          runs.add(r);
          progress(o, out, r);
          if (lastRun != null) {
            deleteTree(Path.of(lastRun)); // keep only the shards the training chunk reads
          }
          lastRun = runDir;
          lastInput = input;
        }
        if (n == files.size()) {
          break;
        }
      }
      root.set("train", childRun(o, "train", lastInput, lastRun, o.cores().get(o.cores().size()
          - 1)));
      progress(o, out, (ObjectNode) root.get("train"));
      if (o.longLineMegabytes() > 0) {
        Path line = work.resolve("long-line.txt");
        longLine(line, (long) o.longLineMegabytes() << 20);
        String runDir = work.resolve("run-long-line").toString();
        int c = o.cores().get(o.cores().size() - 1);
        ObjectNode prep = childRun(o, "prepare", line.toString(), runDir, c);
        prep.put("corpusBytes", Files.size(line));
        progress(o, out, prep);
        ObjectNode train = childRun(o, "train", line.toString(), runDir, c);
        progress(o, out, train);
        ObjectNode l = root.putObject("longLine");
        l.set("prepare", prep);
        l.set("train", train);
      }
      if (o.json()) {
        out.println(root);
      }
      return 0;
    } finally {
      if (work != null) {
        deleteTree(work);
      }
    }
  }

  /** Each run's line as it finishes: on stdout, or on stderr with --json (stdout gets the whole). */
  private static void progress(Options o, PrintWriter out, ObjectNode r) {
    if (o.json()) {
      System.err.println(r);
    } else {
      out.println(r);
    }
  }

  /** Runs {@code what} (prepare | train) in a fresh JVM; returns its JSON line. */
  private static ObjectNode childRun(Options o, String what, String input, String runDir,
      int cores) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-Xmx") && !a.startsWith("-Xms")) {
        cmd.add(a);
      }
    }
    cmd.add("-Xmx" + o.heapMegabytes() + "m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(io.skippipe.job.cli.SkipPipeCli.class.getName());
    cmd.addAll(List.of("bench", "data", "--child", what, input, runDir,
        Integer.toString(cores)));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String last = null;
    try (var r = p.inputReader(StandardCharsets.UTF_8)) {
      for (String l = r.readLine(); l != null; l = r.readLine()) {
        if (l.startsWith("{")) {
          last = l;
        }
      }
    }
    int code = p.waitFor();
    if (code != 0 || last == null) {
      throw new IllegalStateException("bench data: the " + what + " child on " + input
          + " exited " + code);
    }
    return (ObjectNode) JSON.readTree(last);
  }

  /**
   * The child: {@code bench data --child prepare|train INPUT RUN_DIR CORES}. Prepares the data for the
   * default plan (llama-tiny on laptop-geo-12), or runs the job for one chunk of 2 iterations
   * (reusing the prepared shards), in {@code local[CORES]} (train: enough slots for the plan).
   */
  private static int child(List<String> args, PrintWriter out) throws IOException {
    String what = args.get(0);
    Map<String, String> keys = new HashMap<>();
    keys.put("spark.skippipe.data.input", args.get(1));
    keys.put("spark.skippipe.run.dir", args.get(2));
    keys.put("spark.skippipe.network.mode", "direct");
    keys.put("spark.skippipe.train.iterations", "2");
    keys.put("spark.skippipe.train.chunkIterations", "2");
    keys.put("spark.skippipe.metrics.progress", "false");
    JobConfig cfg = JobConfig.parse(keys);
    int cores = Integer.parseInt(args.get(3));
    Plan plan = JobPlanning.plan(cfg, uri -> {
      throw new IllegalStateException("no plan file");
    }).plan();
    String master = "local[" + (what.equals("train") ? Math.max(cores, plan.nodeCount()) : cores)
        + "]";
    SparkSession spark = SparkSession.builder().config(SparkSettings.local(
        new SparkConf().setMaster(master).setAppName("skippipe-bench-data"))).getOrCreate();
    ObjectNode r = JSON.createObjectNode();
    r.put("step", what);
    r.put("master", master);
    try {
      long t0 = System.nanoTime();
      if (what.equals("prepare")) {
        DataPrep.Result res = DataPrep.prepare(spark, cfg, plan.dataNodes(),
            plan.model().seqLen(), plan.model().vocab(), Map.of());
        double s = (System.nanoTime() - t0) / 1e9;
        r.put("seconds", s);
        r.put("tokens", res.stats().tokens());
        r.put("tokensPerSecond", res.stats().tokens() / s);
        r.put("sequences", res.stats().sequences());
        r.put("documents", res.stats().documents());
        r.put("reused", res.reused());
      } else {
        SkipPipeJob.Summary sum = SkipPipeJob.run(spark, cfg, Map.of(),
            new PrintStream(OutputStream.nullOutputStream()));
        r.put("seconds", (System.nanoTime() - t0) / 1e9);
        ArrayNode loss = r.putArray("loss");
        for (RunMetrics.IterationRow row : sum.iterations()) {
          loss.add(row.loss());
        }
        r.put("lastStep", sum.lastStep());
      }
    } finally {
      spark.stop();
    }
    r.put("peakRssBytes", ResidentMemory.peakBytes());
    r.put("peakHeapBytes", ManagementFactory.getMemoryPoolMXBeans().stream()
        .filter(m -> m.getType() == java.lang.management.MemoryType.HEAP)
        .mapToLong(m -> m.getPeakUsage().getUsed()).sum());
    out.println(r);
    return 0;
  }

  /** Writes ~{@code bytes} of text into 256 MiB files: paragraphs of corpus lines, seeded. */
  static List<Path> corpus(Path dir, long bytes) throws IOException {
    Files.createDirectories(dir);
    List<String> lines = new ArrayList<>();
    for (String d : Corpus.trainDocuments()) {
      for (String l : d.split("\n")) {
        if (!l.isBlank()) {
          lines.add(l);
        }
      }
    }
    SplittableRandom r = new SplittableRandom(2024);
    List<Path> files = new ArrayList<>();
    long written = 0;
    while (written < bytes) {
      Path f = dir.resolve(String.format("part-%05d.txt", files.size()));
      long n = 0;
      try (BufferedWriter w = Files.newBufferedWriter(f, StandardCharsets.UTF_8)) {
        while (n < Math.min(FILE_BYTES, bytes - written)) {
          for (int k = r.nextInt(1, 9); k > 0; k--) {
            String l = lines.get(r.nextInt(lines.size()));
            w.write(l);
            w.write('\n');
            n += l.length() + 1;
          }
          w.write('\n');
          n++;
        }
      }
      files.add(f);
      written += Files.size(f);
    }
    return files;
  }

  /** One line of ~{@code bytes} bytes of words (no line break). */
  static void longLine(Path f, long bytes) throws IOException {
    String[] words = Corpus.validationDocuments().get(0).split("\\s+");
    SplittableRandom r = new SplittableRandom(7);
    long n = 0;
    try (BufferedWriter w = Files.newBufferedWriter(f, StandardCharsets.UTF_8)) {
      while (n < bytes) {
        String word = words[r.nextInt(words.length)];
        w.write(word);
        w.write(' ');
        n += word.length() + 1;
      }
    }
  }

  private static String glob(List<Path> files) {
    if (files.size() == 1) {
      return files.get(0).toString();
    }
    StringBuilder b = new StringBuilder(files.get(0).getParent().toString()).append("/{");
    for (int i = 0; i < files.size(); i++) {
      b.append(i > 0 ? "," : "").append(files.get(i).getFileName());
    }
    return b.append('}').toString();
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: it is a temporary directory
    }
  }
}
