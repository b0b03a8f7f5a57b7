package io.skippipe.job.task.chunk;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One node's report of a chunk: its per-iteration stats and measured spans (JSON lines in the
 * simulator's span format) for every iteration of the chunk it completed — in this attempt and, as
 * a survivor, in failed attempts before it — and what the attempt's rendezvous decided.
 *
 * @param slotKey the executor slot ({@code executor/slot}) the node ran in
 * @param resumedAt the step the attempt resumed from (the chunk's start, or later)
 * @param newestHeld the newest step a node held at the attempt's start (above {@code resumedAt}:
 *     iterations trained again)
 * @param planOfIteration iteration → hash of the plan it ran under
 * @param reusedCachedWeights the node continued from weights in its executor's memory
 * @param notes the rendezvous's decisions (recoveries, rollbacks), the same on every node
 * @param timings pipeline message times for the link calibration
 */
public record ChunkResult(int node, String executorId, String host, String slotKey,
    long resumedAt, long newestHeld, List<NodeIterationStats> iterations, List<String> spanLines,
    Map<Integer, String> planOfIteration, boolean reusedCachedWeights, List<String> notes,
    List<MessageTiming> timings) implements Serializable {
  /** Plain ArrayList/TreeMap copies: Kryo cannot rebuild the JDK's immutable collections. */
  public ChunkResult {
    iterations = new ArrayList<>(iterations);
    spanLines = new ArrayList<>(spanLines);
    planOfIteration = new TreeMap<>(planOfIteration);
    notes = new ArrayList<>(notes);
    timings = new ArrayList<>(timings);
  }
}
