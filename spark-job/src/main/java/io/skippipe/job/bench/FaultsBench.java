package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.ChunkedTraining;
import io.skippipe.job.driver.ExecutorRoster;
import io.skippipe.job.driver.PlanHistory;
import io.skippipe.job.driver.RunMetrics;
import io.skippipe.job.driver.TrainingProgress;
import io.skippipe.job.spark.SparkSettings;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.Presets;
import java.io.File;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/skippipe bench faults [--json] [--cluster C] [--model M] [--iterations N]
 * [--chunk K] [--time-scale S] [--kills STEP:replica|stage,...] [--policies
 * checkpoint,neighbours] [--seed N]}: training that loses executors, measured.
 *
 * <p>One {@code local-cluster[N,1,1536]} (N = the profile's nodes, one executor JVM per node) runs
 * the job ({@code SkipPipeJob.run}: data, plan, chunks) once without faults and once per stage
 * recovery policy with the fault schedule: when a node reports a scheduled step (executor
 * heartbeats, {@link TrainingProgress}) the bench {@code kill -9}s executor JVMs — {@code replica}:
 * the last-listed replica of a non-data stage with two or more; {@code stage}: every replica of a
 * non-data stage not hit before (a whole-stage loss). The standalone master starts replacement
 * executors; the run takes them in at a later chunk attempt. Defaults: llama-tiny on
 * laptop-geo-12 (12 executors), 40 iterations in chunks of 5, kills {@code 5:replica,15:stage}
 * (three executors), both policies, emulated links and padded compute at time scale 2.
 *
 * <p>Per run: a table per chunk (attempts, live nodes, plan, predicted and measured iteration
 * time — before and after each fault —, steps trained again), then the summary: iterations
 * completed, iterations rolled back (the newest step a node held minus the step the chunk resumed
 * at, summed over faulted chunks), seconds lost per fault (the wall seconds of the chunk it struck
 * and of the next chunk, where replacements rejoin, minus the same chunks of the fault-free run),
 * and the final loss against the fault-free run's. With {@code --json} the last line is {@code
 * {"runs":[{"policy", "iterations", "completed", "kills", "rolledBackIterations", "finalLoss",
 * "faultFreeFinalLoss", "secondsLostPerFault"}, ...]}}.
 */
public final class FaultsBench {
  private FaultsBench() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** One scheduled fault: at {@code step}, kill a replica or a whole stage. */
  record Kill(int step, String what) {}

  /** The benchmark's arguments; defaults are the documented run. */
  record Options(boolean json, String cluster, String model, int iterations, int chunk,
      double timeScale, List<Kill> kills, List<String> policies, long seed) {
    static Options parse(String[] args) {
      boolean json = false;
      Map<String, String> v = new HashMap<>();
      List<String> flags = List.of("--cluster", "--model", "--iterations", "--chunk",
          "--time-scale", "--kills", "--policies", "--seed");
      for (int i = args.length > 0 && args[0].equals("faults") ? 1 : 0; i < args.length; i++) {
        if (args[i].equals("--json")) {
          json = true;
        } else if (!flags.contains(args[i])) {
          throw new ConfigException(args[i], args[i], "is not an option of bench faults",
              "use --json or one of " + flags);
        } else if (i + 1 >= args.length) {
          throw new ConfigException(args[i], "", "needs a value", "write " + args[i] + " VALUE");
        } else {
          v.put(args[i], args[++i]);
        }
      }
      List<Kill> kills = new ArrayList<>();
      String spec = v.getOrDefault("--kills", "5:replica,15:stage");
      for (String k : spec.split(",")) {
        String[] p = k.trim().split(":");
        if (p.length != 2 || !p[0].matches("[1-9][0-9]*") || !p[1].matches("replica|stage")) {
          throw new ConfigException("--kills", spec, "entry '" + k + "' is not STEP:replica or"
              + " STEP:stage", "write e.g. 5:replica,15:stage");
        }
        kills.add(new Kill(Integer.parseInt(p[0]), p[1]));
      }
      kills.sort((a, b) -> Integer.compare(a.step(), b.step()));
      List<String> policies = List.of(v.getOrDefault("--policies", "checkpoint,neighbours")
          .split(","));
      for (String p : policies) {
        if (!p.equals("checkpoint") && !p.equals("neighbours")) {
          throw new ConfigException("--policies", String.join(",", policies), "policy '" + p
              + "' is not checkpoint or neighbours", "write e.g. checkpoint,neighbours");
        }
      }
      Options o = new Options(json, v.getOrDefault("--cluster", "laptop-geo-12"),
          v.getOrDefault("--model", "llama-tiny"), integer(v, "--iterations", 40),
          integer(v, "--chunk", 5), number(v, "--time-scale", 2.0), kills, policies,
          integer(v, "--seed", 5));
      if (o.kills().get(o.kills().size() - 1).step() >= o.iterations()) {
        throw new ConfigException("--kills", spec, "schedules a kill at or after the last"
            + " iteration " + o.iterations(), "kill earlier or raise --iterations");
      }
      return o;
    }

    private static int integer(Map<String, String> v, String flag, int dflt) {
      try {
        return v.containsKey(flag) ? Integer.parseInt(v.get(flag)) : dflt;
      } catch (NumberFormatException e) {
        throw new ConfigException(flag, v.get(flag), "must be a whole number",
            "write e.g. " + flag + " " + dflt);
      }
    }

    private static double number(Map<String, String> v, String flag, double dflt) {
      try {
        return v.containsKey(flag) ? Double.parseDouble(v.get(flag)) : dflt;
      } catch (NumberFormatException e) {
        throw new ConfigException(flag, v.get(flag), "must be a number",
            "write e.g. " + flag + " " + dflt);
      }
    }
  }

  /** A kill that happened: the step a node had reported, the nodes and executors killed. */
  record Struck(Kill kill, long step, List<Integer> nodes, List<String> executors) {}

  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options o;
    try {
      o = Options.parse(args);
    } catch (ConfigException e) {
      err.println("skippipe bench faults: " + e.getMessage());
      return 2;
    }
    String home = System.getenv("SPARK_HOME");
    if (home == null || !new File(home, "jars").isDirectory()) {
      err.println("skippipe bench faults: local-cluster needs SPARK_HOME with a jars/ folder"
          + " (SPARK_HOME=" + home + "); bin/skippipe sets one under spark-job/target when unset");
      return 2;
    }
    int nodes = Presets.cluster(o.cluster()).size();
    SparkConf conf = SparkSettings.local(new SparkConf()
        .setMaster("local-cluster[" + nodes + ",1,1536]").setAppName("skippipe-bench-faults"))
        .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
        .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true -DDJL_CACHE_DIR="
            + djlCache() + " -DENGINE_CACHE_DIR=" + djlCache())
        .set("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1")
        .set("spark.executorEnv.OMP_NUM_THREADS", "1")
        .set("spark.executor.heartbeatInterval", "1s")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "60");
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    try {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      awaitExecutors(jsc, nodes);
      out.printf("bench faults: %s on %s (%d executor JVMs), %d iterations in chunks of %d,"
              + " kills %s, time scale %s%n", o.model(), o.cluster(), nodes, o.iterations(),
          o.chunk(), o.kills(), o.timeScale());
      SkipPipeJob.Summary free = runOnce(spark, o, "fault-free", null, List.of(), out);
      ArrayNode runs = JSON.createArrayNode();
      for (String policy : o.policies()) {
        awaitExecutors(jsc, nodes);
        List<Struck> struck = new ArrayList<>();
        SkipPipeJob.Summary s = runOnce(spark, o, policy, policy, struck, out);
        runs.add(summary(o, policy, s, free, struck, out));
      }
      ObjectNode root = JSON.createObjectNode();
      root.set("runs", runs);
      if (o.json()) {
        out.println(root.toString());
      }
      return 0;
    } catch (ConfigException e) {
      err.println("skippipe bench faults: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      err.println("skippipe bench faults failed: " + e);
      e.printStackTrace(err);
      return 1;
    } finally {
      spark.stop();
    }
  }

  private static String djlCache() {
    String d = System.getProperty("DJL_CACHE_DIR", System.getenv("DJL_CACHE_DIR"));
    return d != null ? d : System.getProperty("user.home") + "/.djl.ai";
  }

  private static SkipPipeJob.Summary runOnce(SparkSession spark, Options o, String name,
      String policy, List<Struck> struck, PrintStream out) throws Exception {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Map<String, String> m = new HashMap<>();
    String runDir = "runs/bench-faults/" + name;
    m.put("spark.skippipe.run.dir", runDir);
    m.put("spark.skippipe.run.overwrite", "true");
    m.put("spark.skippipe.seed", "" + o.seed());
    m.put("spark.skippipe.cluster", o.cluster());
    m.put("spark.skippipe.model", o.model());
    m.put("spark.skippipe.network.mode", "emulated");
    m.put("spark.skippipe.network.padCompute", "true");
    m.put("spark.skippipe.network.timeScale", "" + o.timeScale());
    m.put("spark.skippipe.train.iterations", "" + o.iterations());
    m.put("spark.skippipe.train.chunkIterations", "" + o.chunk());
    m.put("spark.skippipe.train.maxChunkRetries", "5");
    m.put("spark.skippipe.transfer.readTimeoutMs", "60000");
    m.put("spark.skippipe.elastic.replacementWaitMs", "0");
    m.put("spark.skippipe.elastic.replanFactor", "0");
    m.put("spark.skippipe.metrics.progress", "false");
    if (policy != null) {
      m.put("spark.skippipe.elastic.stageRecovery", policy);
    }
    JobConfig cfg = JobConfig.parse(m);
    TrainingProgress progress = TrainingProgress.attach(jsc);
    CompletableFuture<Void> killer = policy == null ? CompletableFuture.completedFuture(null)
        : CompletableFuture.runAsync(() -> kill(o, runDir, progress, jsc, struck));
    SkipPipeJob.Summary s;
    try {
      s = SkipPipeJob.run(spark, cfg, Map.of(), new PrintStream(OutputStream.nullOutputStream()));
      killer.get(1, TimeUnit.MINUTES);
    } finally {
      killer.cancel(true);
      jsc.sc().removeSparkListener(progress);
    }
    table(o, name, s, struck, out);
    return s;
  }

  /** The fault schedule: waits for each step, then kills (class comment). */
  private static void kill(Options o, String runDir, TrainingProgress progress,
      JavaSparkContext jsc, List<Struck> struck) {
    Set<Integer> hitStages = new TreeSet<>();
    try {
      for (Kill k : o.kills()) {
        if (!progress.awaitStep(k.step(), 3_600_000)) {
          throw new IllegalStateException("no node reached step " + k.step());
        }
        List<JsonNode> rows = new PlanHistory(
            org.apache.hadoop.fs.FileSystem.getLocal(new org.apache.hadoop.conf.Configuration()),
            new org.apache.hadoop.fs.Path(new File(runDir).getAbsolutePath())).read();
        JsonNode last = rows.get(rows.size() - 1);
        Plan plan = PlanCodec.read(Path.of(runDir, PlanHistory.planFile(last.get("plan")
            .asText())));
        Map<Integer, String> executors = new TreeMap<>();
        last.get("executors").fields().forEachRemaining(e -> executors.put(
            Integer.parseInt(e.getKey()), e.getValue().asText().split("/")[0]));
        Set<String> alive = new TreeSet<>();
        ExecutorRoster.now(jsc).forEach(e -> alive.add(e.id()));
        List<Integer> victims = victims(plan, k.what(), executors, alive, hitStages);
        List<String> execs = victims.stream().map(executors::get).distinct().toList();
        long at = progress.maxStep();
        for (String e : execs) {
          ProcessHandle.current().descendants().filter(h -> h.info().arguments().map(a -> {
            List<String> l = Arrays.asList(a);
            int i = l.indexOf("--executor-id");
            return i >= 0 && i + 1 < l.size() && l.get(i + 1).equals(e);
          }).orElse(false)).forEach(ProcessHandle::destroyForcibly);
        }
        struck.add(new Struck(k, at, victims, execs));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The nodes a kill hits (class comment), on live executors only. */
  static List<Integer> victims(Plan plan, String what, Map<Integer, String> executors,
      Set<String> alive, Set<Integer> hitStages) {
    for (int s = plan.stages().size() - 1; s >= 1; s--) {
      List<Integer> st = plan.stages().get(s).stream()
          .filter(n -> alive.contains(executors.get(n))).toList();
      if (what.equals("replica") && st.size() >= 2) {
        hitStages.add(s);
        return List.of(st.get(st.size() - 1));
      }
      if (what.equals("stage") && !hitStages.contains(s) && st.size() >= 2
          && st.size() == plan.stages().get(s).size()) {
        hitStages.add(s);
        return st;
      }
    }
    throw new IllegalStateException("no stage to " + what + "-kill in " + plan.stages());
  }

  private static void awaitExecutors(JavaSparkContext jsc, int n) throws InterruptedException {
    long deadline = System.nanoTime() + 600_000_000_000L;
    while (ExecutorRoster.now(jsc).size() < n) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("only " + ExecutorRoster.now(jsc).size() + " of " + n
            + " executors registered after 10 minutes");
      }
      Thread.sleep(500);
    }
  }

  /** Wall seconds of each chunk (all its attempts). */
  private static Map<Integer, Double> chunkSeconds(SkipPipeJob.Summary s) {
    Map<Integer, Double> out = new TreeMap<>();
    for (ChunkedTraining.AttemptRecord a : s.attempts()) {
      out.merge(a.chunk(), a.seconds(), Double::sum);
    }
    return out;
  }

  private static void table(Options o, String name, SkipPipeJob.Summary s, List<Struck> struck,
      PrintStream out) {
    out.printf("%n%s: %d failed attempts, kills %s%n", name, s.failedAttempts(), struck.stream()
        .map(x -> "step " + x.step() + " " + x.kill().what() + " nodes " + x.nodes()
            + " (executors " + x.executors() + ")").toList());
    out.println("chunk  attempts  nodes  plan          predicted(s)  measured(s)  resumed  "
        + "newest  seconds");
    Map<Integer, List<RunMetrics.IterationRow>> rows = new TreeMap<>();
    s.iterations().forEach(r -> rows.computeIfAbsent(r.iteration() / o.chunk(),
        k -> new ArrayList<>()).add(r));
    Map<Integer, Double> seconds = chunkSeconds(s);
    for (ChunkedTraining.AttemptRecord a : s.attempts()) {
      if (a.failure() != null) {
        continue;
      }
      long attempts = s.attempts().stream().filter(x -> x.chunk() == a.chunk()).count();
      Plan p = PlanCodec.read(Path.of(s.runDir(), PlanHistory.planFile(a.planHash())));
      double[] it = rows.getOrDefault(a.chunk(), List.of()).stream()
          .mapToDouble(RunMetrics.IterationRow::seconds).sorted().toArray();
      out.printf(Locale.ROOT, "%5d  %8d  %5d  %s  %12.3f  %11.3f  %7d  %6d  %7.1f%n", a.chunk(),
          attempts, a.liveNodes(), a.planHash().substring(0, 12),
          p.iterationSeconds() * o.timeScale(), it.length == 0 ? Double.NaN : it[it.length / 2],
          a.resumedAt(), a.newestHeld(), seconds.get(a.chunk()));
    }
  }

  private static ObjectNode summary(Options o, String policy, SkipPipeJob.Summary s,
      SkipPipeJob.Summary free, List<Struck> struck, PrintStream out) {
    long rolledBack = 0;
    for (ChunkedTraining.AttemptRecord a : s.attempts()) {
      if (a.failure() == null && a.newestHeld() > a.resumedAt()) {
        rolledBack += a.newestHeld() - a.resumedAt();
      }
    }
    Map<Integer, Double> mine = chunkSeconds(s);
    Map<Integer, Double> base = chunkSeconds(free);
    ArrayNode lost = JSON.createArrayNode();
    for (Struck x : struck) {
      int c = (int) (x.step() / o.chunk());
      double extra = 0;
      for (int k = c; k <= c + 1 && mine.containsKey(k); k++) {
        extra += mine.get(k) - base.getOrDefault(k, 0.0);
      }
      lost.add(Math.round(extra * 10) / 10.0);
    }
    ObjectNode n = JSON.createObjectNode();
    n.put("policy", policy);
    n.put("iterations", o.iterations());
    n.put("completed", s.iterations().stream().map(RunMetrics.IterationRow::iteration)
        .distinct().count());
    n.put("kills", struck.stream().mapToInt(x -> x.executors().size()).sum());
    n.put("rolledBackIterations", rolledBack);
    n.put("finalLoss", s.iterations().get(s.iterations().size() - 1).loss());
    n.put("faultFreeFinalLoss", free.iterations().get(free.iterations().size() - 1).loss());
    n.set("secondsLostPerFault", lost);
    out.printf(Locale.ROOT, "%s: %d/%d iterations, %d kills, %d iterations rolled back, seconds"
            + " lost per fault %s, final loss %.4f vs fault-free %.4f (%+.2f%%)%n", policy,
        n.get("completed").asLong(), o.iterations(), n.get("kills").asInt(), rolledBack, lost,
        n.get("finalLoss").asDouble(), n.get("faultFreeFinalLoss").asDouble(),
        100 * (n.get("finalLoss").asDouble() / n.get("faultFreeFinalLoss").asDouble() - 1));
    return n;
  }
}
