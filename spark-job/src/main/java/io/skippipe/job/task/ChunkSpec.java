package io.skippipe.job.task;

import io.skippipe.job.config.JobConfig;
import java.io.Serializable;
import java.util.Map;

/**
 * Everything a chunk's barrier tasks need, shipped in the task closure.
 *
 * @param run the run id (names executor state)
 * @param sessionTag carried in every block header; distinct per chunk attempt, so blocks of a
 *     failed attempt never mix with the retry's
 * @param planJson plan.json text; every task parses the same plan
 * @param roles slot key ({@link SlotAddress#key()}) → node
 * @param peers node → block server address
 * @param resumeStep the committed checkpoint step the weights start from, or -1 = fresh init
 * @param firstIteration the global index of the chunk's first iteration (= optimizer step)
 * @param shards data node → shard path (Hadoop URI) of its packed tokens
 * @param hadoop extra Hadoop settings for the checkpoint store (tests; normally spark.hadoop.*)
 * @param epochMicros the driver's wall clock at submission: the common origin of measured spans
 */
public record ChunkSpec(String run, long sessionTag, int chunk, int attempt, String planJson,
    String planHash, Map<String, Integer> roles, Map<Integer, SlotAddress> peers, byte[] secret,
    JobConfig config, String checkpointRoot, long resumeStep, int firstIteration, int iterations,
    Map<Integer, String> shards, Map<String, String> hadoop, long epochMicros) implements Serializable {}
