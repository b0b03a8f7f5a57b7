package io.skippipe.job.cli;

import io.skippipe.job.spark.HadoopConfs;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Option;

/** {@code -D KEY=VALUE}: Hadoop settings for a command's URIs (a picocli mixin). */
final class HadoopOptions {
  @Option(names = "-D", paramLabel = "KEY=VALUE", order = 90,
      description = "A Hadoop setting, e.g. -D fs.s3a.endpoint=URL; repeatable "
          + "(HADOOP_CONF_DIR is read too).")
  Map<String, String> settings = new LinkedHashMap<>();

  /** The Hadoop configuration: HADOOP_CONF_DIR's files, then the {@code -D} settings. */
  Configuration conf() {
    return HadoopConfs.current(settings);
  }
}
