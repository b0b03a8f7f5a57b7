package io.skippipe.job.testing;

import io.skippipe.job.spark.SparkSettings;
import java.io.File;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension giving a test class one Spark session with the probe's settings: loopback,
 * no UI, barrier slot check every 1 s, Kryo with our registrator (records included).
 *
 * <pre>{@code @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(4);}</pre>
 *
 * <p>{@link #localCluster} starts separate executor JVMs (stack-probe §6.2): SPARK_HOME is
 * {@code target/fake-spark-home} with an empty {@code jars/} and the executors get this JVM's
 * class path.
 */
public final class LocalSparkExtension implements BeforeAllCallback, AfterAllCallback {
  private final String master;
  private final int executors;
  private final java.util.Map<String, String> extra = new java.util.LinkedHashMap<>();
  private SparkSession session;

  private LocalSparkExtension(String master, int executors) {
    this.master = master;
    this.executors = executors;
  }

  /** {@code local[slots]} with at most 2 task failures before a barrier slot check gives up. */
  public static LocalSparkExtension local(int slots) {
    return new LocalSparkExtension("local[" + slots + "]", 0);
  }

  /** {@code local-cluster[executors,coresEach,1024]}: executor JVMs on this machine. */
  public static LocalSparkExtension localCluster(int executors, int coresEach) {
    return new LocalSparkExtension("local-cluster[" + executors + "," + coresEach + ",1024]",
        executors);
  }

  /** Adds a Spark setting (before the session starts), e.g. a shorter heartbeat interval. */
  public LocalSparkExtension with(String key, String value) {
    extra.put(key, value);
    return this;
  }

  /** The SparkConf this extension uses (before the session exists). */
  public SparkConf conf() {
    SparkConf conf = new SparkConf().setMaster(master).setAppName("skippipe-test")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "2");
    if (executors > 0) {
      String home = System.getenv("SPARK_HOME");
      if (home == null || !new File(home, "jars").isDirectory()) {
        throw new IllegalStateException("local-cluster needs SPARK_HOME with a jars/ folder"
            + " (surefire sets SPARK_HOME=target/fake-spark-home; the folder is created here),"
            + " SPARK_HOME=" + home);
      }
      String djl = System.getProperty("DJL_CACHE_DIR", System.getProperty("user.home") + "/.djl.ai");
      conf.set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
          .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true -DDJL_CACHE_DIR=" + djl
              + " -DENGINE_CACHE_DIR=" + djl)
          .set("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1")
          .set("spark.executorEnv.OMP_NUM_THREADS", "1");
    }
    extra.forEach(conf::set);
    return SparkSettings.local(conf);
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    if (executors > 0) {
      String home = System.getenv("SPARK_HOME");
      if (home != null) {
        new File(home, "jars").mkdirs();
      }
    }
    session = SparkSession.builder().config(conf()).getOrCreate();
    if (executors > 0) {
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (session.sparkContext().statusTracker().getExecutorInfos().length < executors + 1
          && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (session != null) {
      session.stop();
      session = null;
    }
  }

  public SparkSession session() {
    return session;
  }

  public JavaSparkContext jsc() {
    return JavaSparkContext.fromSparkContext(session.sparkContext());
  }
}
