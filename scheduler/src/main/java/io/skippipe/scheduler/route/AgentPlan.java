package io.skippipe.scheduler.route;

/**
 * The low-level solution of one agent: its forward path and its full predicted timeline of
 * {@code 2ℓ+1} visits (ℓ forwards from the data node on, the loss at the data node, ℓ backwards in
 * reverse), with waits imposed by collision constraints.
 */
record AgentPlan(int[] path, int[] visitNode, long[] visitStart, long[] visitEnd,
    boolean[] visitForward, long endMicros) {}
