package io.skippipe.job.spark;

import java.net.URI;
import java.nio.file.Paths;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;

/**
 * Builds Hadoop {@link Configuration}s the way that works in executors (stack-probe §5.3): a fresh
 * one built in the calling thread, so it sees the task's context class loader (which holds the app
 * jar with hadoop-aws) and the {@code spark.hadoop.*} settings. {@code SparkHadoopUtil.get().conf()}
 * does not: under spark-submit it fails with {@code ClassNotFoundException: S3AFileSystem}.
 */
public final class HadoopConfs {
  private HadoopConfs() {}

  /** A configuration for this thread: from SparkEnv when Spark runs here, else a plain one. */
  public static Configuration current() {
    SparkEnv env = SparkEnv.get();
    Configuration c = env != null ? SparkHadoopUtil.get().newConfiguration(env.conf())
        : new Configuration();
    c.setClassLoader(Thread.currentThread().getContextClassLoader());
    return c;
  }

  /**
   * The {@code spark.hadoop.*} entries of Spark settings as Hadoop keys (the prefix removed), for
   * Hadoop access before a SparkEnv exists (the driver's checks): S3 keys, HDFS settings.
   */
  public static Map<String, String> sparkHadoopKeys(Map<String, String> sparkSettings) {
    Map<String, String> m = new java.util.LinkedHashMap<>();
    sparkSettings.forEach((k, v) -> {
      if (k.startsWith("spark.hadoop.")) {
        m.put(k.substring("spark.hadoop.".length()), v);
      }
    });
    return m;
  }

  /** {@link #current()} plus the given Hadoop keys (e.g. fs.s3a.* in tests). */
  public static Configuration current(Map<String, String> extra) {
    Configuration c = current();
    extra.forEach(c::set);
    return c;
  }

  /**
   * A URI for a Hadoop URI or a plain local path (made absolute, {@code file://}; no trailing
   * slash, whether or not the directory exists yet).
   */
  public static URI toUri(String pathOrUri) {
    URI u = URI.create(pathOrUri.replace(" ", "%20"));
    if (u.getScheme() == null) {
      String s = Paths.get(pathOrUri).toAbsolutePath().normalize().toUri().toString();
      return URI.create(s.length() > "file:///".length() ? s.replaceAll("/+$", "") : s);
    }
    return u;
  }
}
