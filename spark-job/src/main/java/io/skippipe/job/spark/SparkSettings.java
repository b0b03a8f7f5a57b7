package io.skippipe.job.spark;

import org.apache.spark.SparkConf;

/**
 * The Spark settings every SkipPipe session needs, proven in stack-probe §1–§2 and §6.
 */
public final class SparkSettings {
  private SparkSettings() {}

  /** Adds Kryo with our registrator; keeps what the user set explicitly. */
  public static SparkConf apply(SparkConf conf) {
    conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
    conf.setIfMissing("spark.kryo.registrator", SkipPipeKryoRegistrator.class.getName());
    // Barrier jobs whose slots are not there yet retry every 15 s by default (probe pitfall 7/8).
    conf.setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    return conf;
  }

  /** Settings for a local[N] / local-cluster session kept on loopback (probe pitfall 4). */
  public static SparkConf local(SparkConf conf) {
    conf.setIfMissing("spark.driver.host", "127.0.0.1");
    conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
    conf.setIfMissing("spark.ui.enabled", "false");
    conf.setIfMissing("spark.sql.shuffle.partitions", "4");
    return apply(conf);
  }
}
