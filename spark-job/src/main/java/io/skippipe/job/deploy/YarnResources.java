package io.skippipe.job.deploy;

import io.skippipe.job.config.ConfigException;
import java.io.IOException;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.yarn.api.records.NodeReport;
import org.apache.hadoop.yarn.api.records.NodeState;
import org.apache.hadoop.yarn.api.records.ResourceInformation;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.exceptions.YarnException;
import org.apache.spark.SparkConf;

/**
 * A check the driver runs on YARN before it starts its Spark session: the GPUs the job asks for
 * ({@code spark.executor.resource.gpu.amount} per executor, YARN resource {@code yarn.io/gpu})
 * exist in the cluster. Without it, a GPU submission to a YARN without GPU scheduling gets
 * executor containers anyway (YARN ignores a resource it does not know), every executor dies in
 * GPU discovery and is replaced until Spark's executor-failure limit ends the attempt: minutes of
 * container churn per attempt, and a report that does not mention GPUs (YarnSubmitIT (d)).
 */
public final class YarnResources {
  /** YARN's name of the GPU resource (Spark maps its "gpu" resource to it). */
  public static final String YARN_GPU = "yarn.io/gpu";

  private YarnResources() {}

  /**
   * On {@code --master yarn} with {@code spark.executor.resource.gpu.amount > 0}: asks the
   * ResourceManager for its resource types and its running nodes' {@code yarn.io/gpu} capacity.
   *
   * @param hadoop the client configuration (yarn-site.xml: the ResourceManager's address)
   * @throws ConfigException when YARN has no {@code yarn.io/gpu} resource, or its running nodes
   *     together have fewer GPUs than {@code spark.executor.instances × gpu.amount}
   */
  public static void checkGpus(SparkConf conf, Configuration hadoop) {
    long perExecutor = conf.getLong("spark.executor.resource.gpu.amount", 0);
    if (!"yarn".equals(conf.get("spark.master", "")) || perExecutor <= 0) {
      return;
    }
    long executors = conf.getLong("spark.executor.instances", 2);
    long needed = perExecutor * executors;
    String fix = "for CPU executors submit with SKIPPIPE_GPUS_PER_NODE=0"
        + " (spark.executor.resource.gpu.amount=0), or enable YARN GPU scheduling"
        + " (yarn.io/gpu in resource-types.xml and on the NodeManagers, docs/OPERATIONS.md)";
    YarnClient client = YarnClient.createYarnClient();
    client.init(new YarnConfiguration(hadoop));
    client.start();
    try {
      boolean known = client.getResourceTypeInfo().stream()
          .anyMatch(t -> t.getName().equals(YARN_GPU));
      if (!known) {
        throw new ConfigException("spark.executor.resource.gpu.amount", "" + perExecutor,
            "this YARN cluster has no " + YARN_GPU + " resource (GPU scheduling is not"
                + " enabled), so no executor can get a GPU", fix);
      }
      long available = 0;
      for (NodeReport n : client.getNodeReports(NodeState.RUNNING)) {
        available += Arrays.stream(n.getCapability().getResources())
            .filter(r -> r.getName().equals(YARN_GPU))
            .mapToLong(ResourceInformation::getValue).sum();
      }
      if (available < needed) {
        throw new ConfigException("spark.executor.resource.gpu.amount", "" + perExecutor,
            needed + " " + YARN_GPU + " are needed (" + executors + " executors x "
                + perExecutor + "), but the running NodeManagers offer " + available, fix);
      }
    } catch (YarnException | IOException e) {
      throw new IllegalStateException("cannot ask YARN for its GPU resources: " + e, e);
    } finally {
      client.stop();
    }
  }
}
