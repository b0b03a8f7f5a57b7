package io.skippipe.scheduler.route;

import io.skippipe.scheduler.plan.Constraints;

/**
 * Router settings, parsed once at the edge (PlannerConfig).
 *
 * @param limits the path and TC1 limits
 * @param microbatchesPerDataNode M: microbatches each data node injects per iteration
 * @param slotsPerDataNode CBS agents per data node (paths a data node's microbatches cycle over)
 * @param cbsMaxNodes constraint-tree nodes expanded at most (search budget)
 * @param cbsGoals collision-free nodes after which the TC2 search stops
 * @param cbsBranching children per TC1 conflict at most
 */
public record RouteConfig(Constraints limits, int microbatchesPerDataNode, int slotsPerDataNode,
    int cbsMaxNodes, int cbsGoals, int cbsBranching) {
  public RouteConfig {
    if (microbatchesPerDataNode < 1 || slotsPerDataNode < 1 || cbsMaxNodes < 1 || cbsGoals < 1
        || cbsBranching < 1) {
      throw new IllegalArgumentException("router settings must be positive: "
          + microbatchesPerDataNode + " microbatches, " + slotsPerDataNode + " slots, cbsMaxNodes "
          + cbsMaxNodes + ", cbsGoals " + cbsGoals + ", cbsBranching " + cbsBranching);
    }
  }
}
