package io.skippipe.scheduler.route;

import io.skippipe.scheduler.plan.Constraints;

/**
 * Router settings, parsed once at the edge (PlannerConfig).
 *
 * @param limits the path and TC1 limits
 * @param microbatchesPerDataNode M: microbatches each data node injects per iteration
 * @param slotsPerDataNode CBS agents of each data node, in stage-0 order (the paths a data
 *     node's microbatches cycle over); they may differ by one when the caps allow no more
 * @param cbsMaxNodes constraint-tree nodes expanded at most (search budget)
 * @param cbsGoals collision-free nodes after which the TC2 search stops
 * @param cbsBranching children per TC1 conflict at most
 */
public record RouteConfig(Constraints limits, int microbatchesPerDataNode,
    java.util.List<Integer> slotsPerDataNode,
    int cbsMaxNodes, int cbsGoals, int cbsBranching) {
  public RouteConfig {
    slotsPerDataNode = java.util.List.copyOf(slotsPerDataNode);
    if (microbatchesPerDataNode < 1 || slotsPerDataNode.stream().anyMatch(x -> x < 1)
        || cbsMaxNodes < 1 || cbsGoals < 1
        || cbsBranching < 1) {
      throw new IllegalArgumentException("router settings must be positive: "
          + microbatchesPerDataNode + " microbatches, " + slotsPerDataNode + " slots, cbsMaxNodes "
          + cbsMaxNodes + ", cbsGoals " + cbsGoals + ", cbsBranching " + cbsBranching);
    }
  }
}
