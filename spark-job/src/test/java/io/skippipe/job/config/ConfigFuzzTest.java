package io.skippipe.job.config;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.driver.JobPlanning;
import io.skippipe.job.driver.RunChecks;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.ProfileJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.apache.hadoop.conf.Configuration;

/**
 * Fuzzes the edge (issue 15): configurations mixing valid and invalid values of every {@code
 * spark.skippipe.*} key, and planner inputs (cluster profiles and model specs mutated into valid
 * and invalid shapes), through {@link JobConfig#parse} and {@link RunChecks#check} — without Spark.
 * Each must either be accepted and runnable by the consumers (optimizer, schedule, model, plan
 * validator, data check) or be refused with a {@link ConfigException} naming a key, the rule and
 * the fix; any other exception fails the property. jqwik prints the tries and the seed; a failure
 * replays with {@code @Property(seed = "...")}. Planning is memoised per planner input (it is a
 * pure function of them), so 1,000+ tries stay within a minute or two.
 */
class ConfigFuzzTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path tmp;
  private static final Map<String, List<String>> POOLS = new LinkedHashMap<>();
  private static final Map<String, Object> PLANS = new ConcurrentHashMap<>();
  private static final AtomicInteger ACCEPTED = new AtomicInteger();
  private static final AtomicInteger REFUSED = new AtomicInteger();

  @BeforeContainer
  static void files() throws IOException {
    tmp = Files.createTempDirectory("skippipe-fuzz");
    Path run = Files.createDirectories(tmp.resolve("run"));
    Path file = Files.writeString(tmp.resolve("a-file.txt"), "some text\n".repeat(200));
    Path json = Files.writeString(tmp.resolve("garbage.json"), "{\"not\": ");
    Path binary = Files.write(tmp.resolve("binary.bin"), new byte[4096]);
    Path plan = Files.writeString(tmp.resolve("plan.json"),
        PlanCodec.toJsonString(TestPlans.skippipe()));
    List<String> paths = List.of(run.toString(), file.toString(), json.toString(),
        binary.toString(), plan.toString(), tmp.resolve("missing").toString(),
        file.resolve("below-a-file").toString(), "nosuchfs://bucket/x", "", "::not a uri::",
        "/proc/skippipe-cannot-write");
    List<String> clusters = new ArrayList<>(List.of("laptop-geo-12", "geo-distributed-gcp-20",
        "single-cluster-20", "no-such-cluster", file.toString()));
    List<String> models = new ArrayList<>(List.of("llama-tiny", "llama-500m", "no-such-model",
        json.toString()));
    int i = 0;
    for (String mutated : clusterMutations()) {
      clusters.add(Files.writeString(tmp.resolve("cluster-" + i++ + ".json"), mutated)
          .toString());
    }
    for (String mutated : modelMutations()) {
      models.add(Files.writeString(tmp.resolve("model-" + i++ + ".json"), mutated).toString());
    }
    List<String> generic = List.of("", " ", "abc", "-1", "0", "1", "2", "3", "7", "0.5", "0.33",
        "1e-8", "1e9", "NaN", "Infinity", "-0.1", "true", "false", "TRUE", "99999999999999",
        "2147483648", " 3 ", "1,5");
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      List<String> pool = new ArrayList<>(generic);
      pool.add(k.defaultValue());
      int bar = k.doc().indexOf(" | ");
      if (bar > 0) { // "a | b | c" choices in the doc
        String doc = k.doc();
        int from = doc.lastIndexOf(' ', doc.lastIndexOf(' ', bar) - 1) + 1;
        for (String c : doc.substring(from).split("[ .;:,()=]+")) {
          if (c.matches("[a-z0-9][a-z0-9-]*") && !c.equals("empty")) {
            pool.add(c);
          }
        }
      }
      String n = k.name();
      if (n.endsWith(".dir") || n.endsWith(".file") || n.endsWith(".input")
          || n.endsWith(".tokenizer") || n.endsWith(".init")) {
        pool.addAll(paths);
      }
      if (n.equals(ConfigKeys.CLUSTER.name())) {
        pool.addAll(clusters);
      }
      if (n.equals(ConfigKeys.MODEL.name())) {
        pool.addAll(models);
      }
      if (n.equals(ConfigKeys.TRANSFER_BIND_HOST.name())) {
        pool.addAll(List.of("127.0.0.1", "192.0.2.1", "localhost", "no-such-host.invalid"));
      }
      POOLS.put(n, pool);
    }
  }

  /** laptop-geo-12 and the toy cluster, valid and with one field broken each. */
  private static List<String> clusterMutations() throws IOException {
    List<String> out = new ArrayList<>();
    String toy = ProfileJson.toJson(TestPlans.cluster()).toPrettyString();
    out.add(toy);
    String laptop;
    try (InputStream in = Files.newInputStream(Path.of(System.getProperty("skippipe.repo.root",
        ".."), "conf/clusters/laptop-geo-12.json"))) {
      laptop = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
    for (String base : List.of(toy, laptop)) {
      ObjectNode o = (ObjectNode) JSON.readTree(base);
      out.add(with(o, n -> ((ArrayNode) n.get("stageSizes")).set(0, 99)));
      out.add(with(o, n -> ((ArrayNode) n.get("stageSizes")).removeAll().add(1)));
      out.add(with(o, n -> n.put("hopOverheadSeconds", -1)));
      out.add(with(o, n -> n.put("computeSecondsPerSampleLayer", 0)));
      out.add(with(o, n -> ((ObjectNode) n.get("nodes").get(0)).put("memoryMicrobatches", 0)));
      out.add(with(o, n -> ((ObjectNode) n.get("nodes").get(1)).put("speed", -2)));
      out.add(with(o, n -> n.remove("nodes")));
      out.add(with(o, n -> ((ObjectNode) n.get("defaultLink")).put("bandwidthGBps", 0)));
    }
    return out;
  }

  /** llama-tiny with one field changed each, to valid and invalid shapes. */
  private static List<String> modelMutations() throws IOException {
    Path tiny = Path.of(System.getProperty("skippipe.repo.root", ".."),
        "conf/models/llama-tiny.json");
    ObjectNode o = (ObjectNode) JSON.readTree(tiny.toFile());
    List<String> out = new ArrayList<>();
    out.add(with(o, n -> n.put("layersPerStage", 3)));   // 12/3 = 4 stages: not laptop-geo-12's 6
    out.add(with(o, n -> n.put("layersPerStage", 5)));   // not a divisor of 12
    out.add(with(o, n -> n.put("heads", 0)));
    out.add(with(o, n -> n.put("kvHeads", 3)));          // does not divide 4 heads
    out.add(with(o, n -> n.put("dim", 66)));             // not a multiple of 4 heads... 66/4
    out.add(with(o, n -> n.put("vocab", 10)));           // below the tokenizer's 1024
    out.add(with(o, n -> n.put("seqLen", 1)));
    out.add(with(o, n -> n.put("samplesPerMicrobatch", -1)));
    out.add(with(o, n -> n.put("activationBytesPerElement", 3)));
    return out;
  }

  private static String with(ObjectNode o, java.util.function.Consumer<ObjectNode> edit) {
    ObjectNode c = o.deepCopy();
    edit.accept(c);
    return c.toPrettyString();
  }

  /** The base of every try: a fresh run directory, short runs of the tiny default. */
  private static Map<String, String> base(int iterations) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(ConfigKeys.RUN_DIR.name(), tmp.resolve("run").toString());
    m.put(ConfigKeys.TRAIN_ITERATIONS.name(), "" + iterations);
    m.put(ConfigKeys.TRAIN_CHUNK_ITERATIONS.name(), "1");
    return m;
  }

  private static List<String> fuzzedKeys() {
    List<String> keys = new ArrayList<>(POOLS.keySet());
    keys.remove(ConfigKeys.TEST_FAIL_AT.name()); // a test hook that only fires inside a task
    return keys;
  }

  /** Every key with every value of its pool, alone: a drift between one range and its consumer. */
  @Provide
  Arbitrary<Map<String, String>> singleKeys() {
    List<Map<String, String>> all = new ArrayList<>();
    for (String k : fuzzedKeys()) {
      for (String v : POOLS.get(k)) {
        Map<String, String> m = base(3);
        m.put(k, v);
        all.add(m);
      }
    }
    return Arbitraries.of(all);
  }

  /** Two to five keys at once, from their pools or random numbers: interactions. */
  @Provide
  Arbitrary<Map<String, String>> combinations() {
    Arbitrary<Map.Entry<String, String>> entry = Arbitraries.of(fuzzedKeys()).flatMap(k ->
        Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(4, Arbitraries.of(POOLS.get(k))),
            net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(-5, 70_000)
                .map(String::valueOf)),
            net.jqwik.api.Tuple.of(1, Arbitraries.doubles().between(-1, 12).map(String::valueOf)))
            .map(v -> Map.entry(k, v)));
    return Combinators.combine(entry.list().ofMinSize(2).ofMaxSize(5),
        Arbitraries.integers().between(2, 5)).as((entries, iterations) -> {
          Map<String, String> m = base(iterations);
          entries.forEach(e -> m.put(e.getKey(), e.getValue()));
          return m;
        });
  }

  @Property(generation = net.jqwik.api.GenerationMode.EXHAUSTIVE, tries = 5000)
  void everyValueOfEveryKeyIsAcceptedAndRunnableOrRefusedNamingAKey(
      @ForAll("singleKeys") Map<String, String> settings) throws Exception {
    acceptedAndRunnableOrRefused(settings);
  }

  @Property(tries = 400, seed = "20261130")
  void combinationsAreAcceptedAndRunnableOrRefusedNamingAKey(
      @ForAll("combinations") Map<String, String> settings) throws Exception {
    acceptedAndRunnableOrRefused(settings);
  }

  private void acceptedAndRunnableOrRefused(Map<String, String> settings) throws Exception {
    Configuration conf = HadoopConfs.current();
    JobConfig cfg;
    RunChecks.Checked checked;
    try {
      cfg = JobConfig.parse(settings);
      IgnoredSettings.of(settings);
      checked = RunChecks.check(cfg, "local[12]", conf, ConfigFuzzTest::plan);
    } catch (ConfigException e) {
      REFUSED.incrementAndGet();
      assertNotNull(ConfigKeys.byName(e.key()), "not a key: " + e.getMessage());
      assertTrue(e.getMessage().contains(e.key()) && e.getMessage().contains(" is invalid: ")
          && e.getMessage().contains(". Fix: "), e.getMessage());
      return;
    }
    ACCEPTED.incrementAndGet();
    // accepted: every consumer takes the settings
    cfg.train().adamW();
    cfg.train().lrSchedule().lr(cfg.train().iterations() - 1);
    if (checked.planned() != null) {
      Models.llama(checked.planned().plan().model());
      assertTrue(checked.planned().plan().iterationSeconds() > 0);
    }
  }

  /** The job's planner, memoised per input (a pure function of them). */
  private static JobPlanning.PlannedRun plan(JobConfig cfg) {
    String key = String.join("|", cfg.cluster(), cfg.model(), cfg.plan().toString(),
        "" + cfg.seed(), cfg.compute().toString());
    Object r = PLANS.computeIfAbsent(key, k -> {
      try {
        return JobPlanning.plan(cfg, uri -> {
          try {
            return Files.readAllBytes(Path.of(HadoopConfs.toUri(uri)));
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
      } catch (RuntimeException e) {
        return e;
      }
    });
    if (r instanceof RuntimeException e) {
      throw e;
    }
    return (JobPlanning.PlannedRun) r;
  }

  @AfterContainer
  static void report() {
    System.out.printf("config fuzz: %d accepted, %d refused naming a key, %d distinct planner"
        + " inputs%n", ACCEPTED.get(), REFUSED.get(), PLANS.size());
    // the generator must exercise both sides, or the property proves little
    assertTrue(ACCEPTED.get() + REFUSED.get() >= 1000, "fewer than 1,000 configurations tried");
    assertTrue(ACCEPTED.get() >= 200, "only " + ACCEPTED.get() + " configurations were accepted");
    assertTrue(REFUSED.get() >= 200, "only " + REFUSED.get() + " configurations were refused");
  }
}
