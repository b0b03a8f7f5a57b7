package io.skippipe.scheduler.route;

import java.util.List;

/**
 * A conflict found in a CBS node's solution, with the constraint sets of the children that
 * resolve it (one child per set). Types follow spec §4.2: stage cap (TC1-a), node memory (TC1-b),
 * collision (TC2).
 */
record Conflict(Type type, List<Constraint> childConstraints) {
  enum Type {
    STAGE_CAP,
    NODE_CAP,
    COLLISION
  }
}
