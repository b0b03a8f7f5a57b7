package io.skippipe.job.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.config.ConfigKeys;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.api.plugin.SparkPlugin;
import org.apache.spark.serializer.KryoRegistrator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * Checks the deployment artifacts under {@code deploy/} against the code and the defaults file:
 * every {@code spark.skippipe.*} key they (and the docs) use exists (that every key reaches the code
 * is ConfigKeysReachTest's), * the Kubernetes YAML has what the Spark operator requires, and every jar name and class they
 * name is the one the build produces.
 */
class DeployArtifactsTest {
  private static final Path ROOT = Paths.get(System.getProperty("skippipe.repo.root", ".."))
      .toAbsolutePath().normalize();
  /** {@code spark.skippipe.} and dotted identifiers; a sentence's final dot is not part of it. */
  private static final Pattern KEY =
      Pattern.compile("spark\\.skippipe\\.[A-Za-z0-9_]+(?:\\.[A-Za-z0-9_]+)*");
  /** The usage line's placeholder ({@code --set spark.skippipe.key=value}), not a key. */
  private static final Set<String> PLACEHOLDERS = Set.of("spark.skippipe.key");
  private static final Pattern OUR_CLASS =
      Pattern.compile("io\\.skippipe\\.[a-z0-9_.]+\\.[A-Z][A-Za-z0-9_]*");
  private static final String MAIN_CLASS = "io.skippipe.job.SkipPipeJob";
  private static final String REGISTRATOR = "io.skippipe.job.spark.SkipPipeKryoRegistrator";
  private static final String PLUGIN = "io.skippipe.job.metrics.SkipPipeMetricsPlugin";

  @Test
  void everyKeyUsedInDeployConfAndDocsIsInTheDefaultsFile() throws IOException {
    Set<String> defaults = defaultsFileKeys();
    Map<String, Set<String>> unknown = new TreeMap<>();
    for (Path file : textFiles("deploy", "conf", "docs", "README.md")) {
      Matcher m = KEY.matcher(Files.readString(file));
      while (m.find()) {
        String key = m.group();
        if (!defaults.contains(key) && !PLACEHOLDERS.contains(key)) {
          unknown.computeIfAbsent(key, k -> new TreeSet<>()).add(ROOT.relativize(file).toString());
        }
      }
    }
    assertTrue(unknown.isEmpty(), "spark.skippipe.* keys used but missing from"
        + " conf/skippipe-defaults.properties (a typo, or a key the code does not have): "
        + unknown);
  }

  @Test
  void sparkApplicationHasWhatTheSparkOperatorRequires() throws IOException {
    Map<String, Object> app = yaml("deploy/kubernetes/sparkapplication.yaml");
    assertEquals("sparkoperator.k8s.io/v1beta2", app.get("apiVersion"));
    assertEquals("SparkApplication", app.get("kind"));
    Map<String, Object> meta = map(app, "metadata");
    assertTrue(meta.get("name") instanceof String n && n.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?"),
        "metadata.name must be a DNS-1123 label: " + meta.get("name"));
    Map<String, Object> spec = map(app, "spec");
    assertTrue(Set.of("Java", "Scala").contains(spec.get("type")),
        "spec.type: " + spec.get("type"));
    assertEquals("cluster", spec.get("mode"));
    assertTrue(spec.get("image") instanceof String s && !s.isBlank(), "spec.image");
    assertEquals(MAIN_CLASS, spec.get("mainClass"));
    assertEquals("local:///opt/skippipe/" + distJarName(), spec.get("mainApplicationFile"));
    assertEquals(sparkVersion(), spec.get("sparkVersion"));
    // The operator's CRD types sparkConf and hadoopConf as map[string]string: an unquoted 8 or true
    // would be rejected at apply time.
    for (String confName : List.of("sparkConf", "hadoopConf")) {
      map(spec, confName).forEach((k, v) -> assertInstanceOf(String.class, v,
          "spec." + confName + "." + k + " must be a quoted string, is " + v));
    }
    Map<String, Object> sparkConf = map(spec, "sparkConf");
    assertEquals(REGISTRATOR, sparkConf.get("spark.kryo.registrator"));
    assertEquals(PLUGIN, sparkConf.get("spark.plugins"));
    assertEquals("false", sparkConf.get("spark.dynamicAllocation.enabled"));

    Map<String, Object> driver = map(spec, "driver");
    assertTrue(driver.get("cores") instanceof Integer && driver.get("memory") instanceof String,
        "driver.cores (integer) and driver.memory: " + driver);
    Map<String, Object> executor = map(spec, "executor");
    assertTrue(executor.get("instances") instanceof Integer i && i > 1, "executor.instances");
    assertEquals(String.valueOf(executor.get("instances")),
        sparkConf.get("spark.default.parallelism"), "default parallelism = executors");
    // One task per executor: the task takes all of the executor's cores.
    assertEquals(String.valueOf(executor.get("cores")), sparkConf.get("spark.task.cpus"));
    Map<String, Object> gpu = map(executor, "gpu");
    assertEquals("nvidia.com/gpu", gpu.get("name"));
    assertEquals(1, gpu.get("quantity"));
    assertEquals(sparkConf.get("spark.executor.resource.gpu.amount"), "1");
  }

  @Test
  void executorPodTemplateAsksForAGpu() throws IOException {
    Map<String, Object> pod = yaml("deploy/kubernetes/executor-pod-template.yaml");
    assertEquals("v1", pod.get("apiVersion"));
    assertEquals("Pod", pod.get("kind"));
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> containers = (List<Map<String, Object>>) map(pod, "spec")
        .get("containers");
    Map<String, Object> limits = map(map(containers.get(0), "resources"), "limits");
    assertEquals(1, limits.get("nvidia.com/gpu"));
  }

  @Test
  void dockerfileAddsTheDistJarWhereTheManifestLooksForIt() throws IOException {
    String docker = read("deploy/kubernetes/Dockerfile");
    Matcher from = Pattern.compile("(?m)^FROM\\s+(\\S+)").matcher(docker);
    assertTrue(from.find(), "no FROM line");
    assertEquals("apache/spark:" + sparkVersion() + "-scala2.13-java17-ubuntu", from.group(1),
        "an official Spark image of the version we compile against, on Java 17");
    String jar = distJarName();
    assertTrue(docker.contains("COPY spark-job/target/" + jar + " /opt/skippipe/" + jar),
        "Dockerfile must copy the dist jar to /opt/skippipe/" + jar);
    Map<String, Object> sparkConf =
        map(map(yaml("deploy/kubernetes/sparkapplication.yaml"), "spec"), "sparkConf");
    String script = (String) sparkConf.get("spark.executor.resource.gpu.discoveryScript");
    assertTrue(docker.contains("COPY deploy/kubernetes/getGpusResources.sh " + script),
        "Dockerfile must put the discovery script at " + script);
  }

  @Test
  void yarnSubmitScriptIsValidBashAndSubmitsTheDistJar() throws Exception {
    String submit = read("deploy/yarn/submit.sh");
    assertEquals(0, run(List.of("bash", "-n", ROOT.resolve("deploy/yarn/submit.sh").toString()),
        Map.of()).exitCode, "bash -n deploy/yarn/submit.sh");
    assertTrue(submit.contains("--class " + MAIN_CLASS), "--class " + MAIN_CLASS);
    assertTrue(submit.contains("/" + distJarName()), "names " + distJarName());
    assertTrue(submit.contains("--master yarn") && submit.contains("--deploy-mode cluster"));
    assertTrue(submit.contains("hdfs://"), "reads and writes HDFS");
  }

  @Test
  void sparkDefaultsRunOneTaskPerExecutorWithKryoAndGpus() throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(ROOT.resolve("deploy/spark-defaults.conf"))) {
      p.load(r); // spark-defaults.conf is a properties file with whitespace separators
    }
    assertEquals(p.getProperty("spark.executor.cores"), p.getProperty("spark.task.cpus"));
    assertEquals(p.getProperty("spark.executor.resource.gpu.amount"),
        p.getProperty("spark.task.resource.gpu.amount"));
    assertEquals("false", p.getProperty("spark.dynamicAllocation.enabled"));
    assertEquals(p.getProperty("spark.executor.instances"),
        p.getProperty("spark.default.parallelism"));
    assertEquals("org.apache.spark.serializer.KryoSerializer", p.getProperty("spark.serializer"));
    assertEquals(REGISTRATOR, p.getProperty("spark.kryo.registrator"));
    assertEquals(PLUGIN, p.getProperty("spark.plugins"));
    assertTrue(p.getProperty("spark.executor.extraJavaOptions").contains("-Dai.djl.offline=true"));
    assertEquals("256", p.getProperty("spark.executorEnv.MALLOC_ARENA_MAX"),
        "one malloc arena per thread, as bin/skippipe sets (docs/OPERATIONS.md, Native memory)");
    assertTrue(p.getProperty("spark.barrier.sync.timeout") != null
        && p.getProperty("spark.scheduler.barrier.maxConcurrentTasksCheck.interval") != null);
  }

  @Test
  void airflowDagCompilesAndNamesTheJarAndMainClass(@TempDir Path tmp) throws Exception {
    Path dag = ROOT.resolve("deploy/airflow/skippipe_dag.py");
    // py_compile into a temp file, so no __pycache__ lands in deploy/.
    Result r = run(List.of("python3", "-c",
        "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
        dag.toString(), tmp.resolve("dag.pyc").toString()), Map.of());
    assertEquals(0, r.exitCode, "python3 py_compile of the DAG: " + r.output);
    String text = Files.readString(dag);
    assertTrue(text.contains("MAIN_CLASS = \"" + MAIN_CLASS + "\""), "DAG main class");
    assertTrue(text.contains("/" + distJarName() + "\""), "DAG jar " + distJarName());
    assertTrue(text.contains("SparkSubmitOperator(") && text.contains("SparkKubernetesOperator("));
    assertTrue(text.contains("_COMMITTED"), "DAG waits for the _COMMITTED marker");
    // The S3 sensor must watch the run directory the SparkApplication writes.
    String runDir = (String) map(map(yaml("deploy/kubernetes/sparkapplication.yaml"), "spec"),
        "sparkConf").get("spark.skippipe.run.dir");
    Matcher bucket = Pattern.compile("S3_RUN_BUCKET = \"([^\"]+)\"").matcher(text);
    Matcher prefix = Pattern.compile("S3_RUN_PREFIX = \"([^\"]+)\"").matcher(text);
    assertTrue(bucket.find() && prefix.find(), "S3_RUN_BUCKET / S3_RUN_PREFIX");
    assertEquals(runDir, "s3a://" + bucket.group(1) + "/" + prefix.group(1));
  }

  /** Every io.skippipe class named in deploy/ (main class, registrator, plugin) must exist. */
  @Test
  void classesNamedInDeployExist() throws IOException {
    Set<String> missing = new TreeSet<>();
    for (Path file : textFiles("deploy")) {
      Matcher m = OUR_CLASS.matcher(Files.readString(file));
      while (m.find()) {
        try {
          Class.forName(m.group(), false, getClass().getClassLoader());
        } catch (ClassNotFoundException e) {
          missing.add(m.group() + " (" + ROOT.relativize(file) + ")");
        }
      }
    }
    assertTrue(missing.isEmpty(), "deploy/ names classes the build does not have: " + missing);
  }

  /** The registrator and plugin deploy/ configures are the ones Spark will accept. */
  @Test
  void namedSparkExtensionsHaveTheRightTypes() throws Exception {
    assertTrue(KryoRegistrator.class.isAssignableFrom(Class.forName(REGISTRATOR)),
        REGISTRATOR + " must implement org.apache.spark.serializer.KryoRegistrator");
    assertTrue(SparkPlugin.class.isAssignableFrom(Class.forName(PLUGIN)),
        PLUGIN + " must implement org.apache.spark.api.plugin.SparkPlugin");
  }

  @Test
  void gpuDiscoveryScriptPrintsSparkResourceJson(@TempDir Path tmp) throws Exception {
    Path script = ROOT.resolve("deploy/kubernetes/getGpusResources.sh");
    // nvidia-smi stand-in printing what `nvidia-smi --query-gpu=index --format=csv,noheader` prints
    // on a two-GPU host (no GPU here).
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    Path smi = bin.resolve("nvidia-smi");
    Files.writeString(smi, "#!/bin/sh\nprintf '0\\n1\\n'\n");
    assertTrue(smi.toFile().setExecutable(true));
    String path = bin + ":" + System.getenv("PATH");
    Result ok = run(List.of("bash", script.toString()), Map.of("PATH", path));
    assertEquals(0, ok.exitCode, ok.output);
    JsonNode json = new ObjectMapper().readTree(ok.output);
    assertEquals("gpu", json.get("name").asText());
    assertEquals(List.of("0", "1"), List.of(json.get("addresses").get(0).asText(),
        json.get("addresses").get(1).asText()));
    assertEquals(2, json.get("addresses").size());

    Result none = run(List.of("bash", script.toString()), Map.of("PATH", "/usr/bin:/bin"));
    assertEquals(1, none.exitCode, "without nvidia-smi the script must fail: " + none.output);
  }

  // --- helpers ----------------------------------------------------------------------------------

  static String distJarName() throws IOException {
    Matcher m = Pattern.compile("(?s)<parent>.*?<version>([^<]+)</version>.*?</parent>")
        .matcher(Files.readString(ROOT.resolve("spark-job/pom.xml")));
    assertTrue(m.find(), "spark-job/pom.xml parent version");
    return "skippipe-spark-job-" + m.group(1) + "-dist.jar";
  }

  static String sparkVersion() throws IOException {
    Matcher m = Pattern.compile("<spark.version>([^<]+)</spark.version>")
        .matcher(Files.readString(ROOT.resolve("pom.xml")));
    assertTrue(m.find(), "pom.xml spark.version");
    return m.group(1);
  }

  static Set<String> defaultsFileKeys() throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(ROOT.resolve("conf/skippipe-defaults.properties"))) {
      p.load(r);
    }
    return new TreeSet<>(p.stringPropertyNames());
  }

  private static List<Path> textFiles(String... roots) throws IOException {
    List<Path> out = new ArrayList<>();
    for (String r : roots) {
      Path p = ROOT.resolve(r);
      if (Files.isRegularFile(p)) {
        out.add(p);
      } else if (Files.isDirectory(p)) {
        try (Stream<Path> s = Files.walk(p)) {
          out.addAll(s.filter(Files::isRegularFile)
              .filter(f -> !f.toString().contains("__pycache__"))
              .filter(f -> !f.toString().endsWith(".png")) // docs/images: screenshots
              .sorted().collect(Collectors.toList()));
        }
      }
    }
    return out;
  }

  private static String read(String relative) throws IOException {
    return Files.readString(ROOT.resolve(relative));
  }

  private static Map<String, Object> yaml(String relative) throws IOException {
    Object doc = new Yaml().load(new StringReader(read(relative)));
    assertInstanceOf(Map.class, doc, relative + " must be a YAML mapping");
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) doc;
    return m;
  }

  private static Map<String, Object> map(Map<String, Object> parent, String key) {
    Object v = parent.get(key);
    assertInstanceOf(Map.class, v, "'" + key + "' must be a mapping, is " + v);
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) v;
    return m;
  }

  private record Result(int exitCode, String output) {}

  private static Result run(List<String> command, Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("timed out: " + command);
    }
    return new Result(p.exitValue(), out);
  }
}
