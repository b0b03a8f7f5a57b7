package io.skippipe.job.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;

/**
 * A YARN cluster in this JVM for the tests: an HDFS (MiniDFSCluster, one datanode) and a YARN
 * (MiniYARNCluster: a ResourceManager and NodeManagers that start real container processes), plus
 * what an administrator sets up once on a gateway host and in HDFS:
 *
 * <ul>
 *   <li>{@code HADOOP_CONF_DIR} ({@link #hadoopConfDir()}): core-site.xml, hdfs-site.xml and
 *       yarn-site.xml of the running clusters, so {@code hdfs:///} and {@code --master yarn} reach
 *       them from any process;
 *   <li>a Spark "distribution" ({@link #sparkHome()}): {@code jars/} (the provided Spark/Hadoop jars,
 *       spark-yarn included), {@code bin/spark-submit} (test resource {@code yarn/spark-submit}: the
 *       real launcher path, {@code org.apache.spark.launcher.Main}) and {@code conf/spark-defaults.conf}
 *       with the gateway's settings: {@code spark.yarn.jars} and {@code spark.eventLog.dir} on HDFS;
 *   <li>in HDFS: the Spark jars under {@code /apps/spark/jars/} (localised into every container, as
 *       on a cluster), the dist jar under {@code /apps/skippipe/} (where deploy/yarn/submit.sh looks
 *       by default) and the event log directory.
 * </ul>
 *
 * <p>Sizing: {@value #NODE_MANAGERS} NodeManagers of {@value #NM_MEMORY_MB} MB each. The
 * NodeManagers enforce each container's physical memory limit (pmem check, as production YARN
 * does; the virtual-memory check is off, as is usual for JVMs), so a container whose JVM plus
 * libtorch outgrows its {@code spark.executor.memoryOverhead} is killed here as on a cluster.
 * Container memory is accounted, not reserved: what the machine spends is the processes' real
 * resident memory.
 *
 * <p>The YARN tests share one instance per test run (deploy/SharedMiniYarn).
 */
public final class MiniYarn implements AutoCloseable {
  static final int NODE_MANAGERS = 2;
  static final int NM_MEMORY_MB = 4096;

  private final Path base;
  private final MiniDFSCluster dfs;
  private final MiniYARNCluster yarn;
  private final YarnClient client;

  private MiniYarn(Path base, MiniDFSCluster dfs, MiniYARNCluster yarn, YarnClient client) {
    this.base = base;
    this.dfs = dfs;
    this.yarn = yarn;
    this.client = client;
  }

  /**
   * Starts HDFS and YARN under {@code base} (deleted first) and installs Spark and the dist jar.
   *
   * @param sparkJars the jars of the Spark distribution (provided Spark/Hadoop jars)
   * @param distJar the packaged spark-submit jar, put into HDFS at /apps/skippipe/
   */
  public static MiniYarn start(Path base, List<Path> sparkJars, Path distJar) throws Exception {
    deleteTree(base);
    Files.createDirectories(base);
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("dfs").toString());
    conf.setInt("dfs.replication", 1);
    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    dfs.waitActive();
    String defaultFs = "hdfs://127.0.0.1:" + dfs.getNameNodePort();

    YarnConfiguration yc = new YarnConfiguration(conf);
    yc.set("fs.defaultFS", defaultFs);
    yc.set(YarnConfiguration.RM_HOSTNAME, "127.0.0.1");
    yc.set(YarnConfiguration.NM_PREFIX + "hostname", "127.0.0.1");
    yc.setInt(YarnConfiguration.YARN_MINICLUSTER_NM_PMEM_MB, NM_MEMORY_MB);
    yc.setInt(YarnConfiguration.NM_VCORES, 4);
    yc.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
    yc.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB, NM_MEMORY_MB);
    yc.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, true);
    yc.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
    yc.setInt(YarnConfiguration.RM_AM_MAX_ATTEMPTS, 2);
    // The CapacityScheduler (YARN's default) with one queue, "default", as submit.sh expects; the
    // ApplicationMaster may take up to half of the cluster (the default 10% is below one AM here).
    yc.set("yarn.scheduler.capacity.root.queues", "default");
    yc.set("yarn.scheduler.capacity.root.default.capacity", "100");
    yc.set("yarn.scheduler.capacity.maximum-am-resource-percent", "0.5");
    // A build machine's disk is often more than 90% full; YARN would mark the local dirs bad.
    yc.setFloat(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 100.0f);
    // The JDK the containers run (hadoop-env.sh sets it for a real NodeManager).
    yc.set(YarnConfiguration.NM_ADMIN_USER_ENV,
        "JAVA_HOME=" + System.getProperty("java.home"));
    // MiniYARNCluster puts the NodeManagers' local and log directories under test.build.data.
    System.setProperty("test.build.data", base.resolve("yarn").toString());
    MiniYARNCluster yarn = new MiniYARNCluster("skippipe", NODE_MANAGERS, 1, 1);
    yarn.init(yc);
    yarn.start();
    Configuration running = yarn.getConfig();
    // start() can return before the ResourceManager has put its real port into the configuration.
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (running.get(YarnConfiguration.RM_ADDRESS, ":0").endsWith(":0")) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the ResourceManager published no address in 60 s");
      }
      Thread.sleep(100);
    }
    YarnClient client = YarnClient.createYarnClient();
    client.init(new YarnConfiguration(running));
    client.start();
    MiniYarn m = new MiniYarn(base, dfs, yarn, client);
    m.writeHadoopConf(running);
    m.installSpark(sparkJars, distJar);
    return m;
  }

  /** {@code hdfs://127.0.0.1:PORT}, also the default filesystem of {@link #hadoopConfDir()}. */
  public String defaultFs() {
    return "hdfs://127.0.0.1:" + dfs.getNameNodePort();
  }

  /** A new HDFS client (close it). */
  public FileSystem fs() throws IOException {
    return FileSystem.newInstance(java.net.URI.create(defaultFs()), new Configuration());
  }

  /** The client configuration directory: what HADOOP_CONF_DIR points to on a gateway host. */
  public Path hadoopConfDir() {
    return base.resolve("hadoop-conf");
  }

  /** SPARK_HOME of the assembled Spark distribution. */
  public Path sparkHome() {
    return base.resolve("spark-home");
  }

  /** A client of the ResourceManager (owned by this fixture). */
  public YarnClient client() {
    return client;
  }

  /**
   * Containers the ResourceManager has allocated since it started, all applications together (the
   * root queue's aggregate count): with one application at a time, the difference over a test
   * is that application's ApplicationMaster and executor containers.
   */
  public long containersAllocated() {
    return yarn.getResourceManager().getResourceScheduler().getRootQueueMetrics()
        .getAggregateAllocatedContainers();
  }

  /** Environment for a process that submits like a gateway host: SPARK_HOME, HADOOP_CONF_DIR. */
  public Map<String, String> submitEnvironment() {
    return Map.of(
        "SPARK_HOME", sparkHome().toString(),
        "HADOOP_CONF_DIR", hadoopConfDir().toString(),
        "JAVA_HOME", System.getProperty("java.home"),
        "SPARK_SCALA_VERSION", "2.13",
        "SPARK_LOCAL_IP", "127.0.0.1");
  }

  private void writeHadoopConf(Configuration running) throws IOException {
    Path dir = Files.createDirectories(hadoopConfDir());
    Configuration core = new Configuration(false);
    core.set("fs.defaultFS", defaultFs());
    Configuration hdfs = new Configuration(false);
    hdfs.setInt("dfs.replication", 1);
    try (OutputStream out = Files.newOutputStream(dir.resolve("core-site.xml"))) {
      core.writeXml(out);
    }
    try (OutputStream out = Files.newOutputStream(dir.resolve("hdfs-site.xml"))) {
      hdfs.writeXml(out);
    }
    // Only the ResourceManager's addresses: the running configuration also holds test-only
    // settings (e.g. a topology mapping class) that the containers' Hadoop client does not have.
    Configuration yarnSite = new Configuration(false);
    for (Map.Entry<String, String> e : running) {
      if (e.getKey().startsWith("yarn.resourcemanager.") && e.getKey().endsWith("address")) {
        yarnSite.set(e.getKey(), running.get(e.getKey()));
      }
    }
    try (OutputStream out = Files.newOutputStream(dir.resolve("yarn-site.xml"))) {
      yarnSite.writeXml(out);
    }
  }

  private void installSpark(List<Path> sparkJars, Path distJar) throws IOException {
    Path home = sparkHome();
    Path jars = Files.createDirectories(home.resolve("jars"));
    try (FileSystem fs = fs()) {
      org.apache.hadoop.fs.Path hdfsJars = new org.apache.hadoop.fs.Path("/apps/spark/jars");
      fs.mkdirs(hdfsJars);
      for (Path jar : sparkJars) {
        if (!jar.getFileName().toString().endsWith(".jar")) {
          continue;
        }
        Path link = jars.resolve(jar.getFileName());
        if (!Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
          Files.createSymbolicLink(link, jar);
          fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(jar.toString()),
              new org.apache.hadoop.fs.Path(hdfsJars, jar.getFileName().toString()));
        }
      }
      fs.mkdirs(new org.apache.hadoop.fs.Path("/apps/skippipe"));
      fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(distJar.toString()),
          new org.apache.hadoop.fs.Path("/apps/skippipe/" + distJar.getFileName()));
      fs.mkdirs(new org.apache.hadoop.fs.Path("/spark-history"));
    }
    Path bin = Files.createDirectories(home.resolve("bin"));
    Path submit = bin.resolve("spark-submit");
    try (InputStream in = MiniYarn.class.getResourceAsStream("/yarn/spark-submit")) {
      Files.write(submit, in.readAllBytes());
    }
    Files.setPosixFilePermissions(submit, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path conf = Files.createDirectories(home.resolve("conf"));
    Files.writeString(conf.resolve("spark-defaults.conf"), String.join("\n",
        "# The gateway's defaults: Spark's jars from HDFS, event logs to HDFS.",
        "spark.yarn.jars    hdfs:///apps/spark/jars/*.jar",
        "spark.eventLog.dir hdfs:///spark-history", ""), StandardCharsets.UTF_8);
  }

  @Override
  public void close() throws Exception {
    try {
      client.stop();
      yarn.stop();
    } finally {
      dfs.shutdown(true);
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
