package io.skippipe.job.task;

import java.io.Serializable;
import java.util.List;

/**
 * One node's report of a chunk: its per-iteration stats and its measured spans (JSON lines in the
 * simulator's span format).
 */
public record ChunkResult(int node, List<NodeIterationStats> iterations, List<String> spanLines,
    boolean reusedCachedWeights) implements Serializable {}
