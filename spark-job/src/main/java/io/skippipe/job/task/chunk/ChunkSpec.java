package io.skippipe.job.task.chunk;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.task.role.Roles;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import java.io.ByteArrayInputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

/**
 * Everything a chunk attempt's barrier tasks need, shipped in the task closure.
 *
 * @param run the run id (names executor state)
 * @param sessionTag carried in every block header; distinct per chunk attempt, so blocks of a
 *     failed attempt never mix with the retry's
 * @param planJson plan.json text of the attempt's plan; every task parses the same plan
 * @param preferred node → preferred slot key ({@code executor/slot}) or executor id ({@link Roles})
 * @param recover stages that had no live replica and get nodes in this attempt ({@link Roles})
 * @param transfer the block transfer settings, encryption resolved against the master
 * @param recoveryRoot where nodes write the snapshots other nodes load in this attempt
 * @param commitStep the chunk's last committed step, or -1 before the first commit
 * @param firstIteration the global index of the chunk's first iteration (= optimizer step)
 * @param iterations the chunk's length; the attempt may resume inside it ({@link Roles})
 * @param shards data node → shard path (Hadoop URI) of its packed tokens
 * @param hadoop extra Hadoop settings for the checkpoint store (tests; normally spark.hadoop.*)
 * @param epochMicros the run's time origin: the common origin of measured spans
 * @param networkJson the cluster profile of the network the emulation reproduces and compute is
 *     padded to (network.emulatedProfile, else the run's first plan's cluster)
 * @param origin plan node → the node of {@code networkJson} it stands for (a replacement node
 *     stands where the node it replaced stood)
 */
public record ChunkSpec(String run, long sessionTag, int chunk, int attempt, String planJson,
    String planHash, Map<Integer, String> preferred, Set<Integer> recover, byte[] secret,
    JobConfig config, TransferConfig transfer, String checkpointRoot, String recoveryRoot,
    long commitStep, int firstIteration, int iterations, Map<Integer, String> shards,
    Map<String, String> hadoop, long epochMicros, String networkJson,
    Map<Integer, Integer> origin) implements Serializable {

  /** The plan, parsed. */
  public Plan plan() {
    return PlanCodec.read(new ByteArrayInputStream(planJson.getBytes(StandardCharsets.UTF_8)));
  }

  /** The request {@link Roles#assign} answers. */
  public Roles.Request rolesRequest(Plan plan) {
    return new Roles.Request(plan, preferred, recover,
        Roles.StageRecovery.parse(config.elastic().stageRecovery()), commitStep);
  }

  /** The chunk's end: one past its last iteration. */
  public int endIteration() {
    return firstIteration + iterations;
  }
}
