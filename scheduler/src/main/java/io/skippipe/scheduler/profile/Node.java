package io.skippipe.scheduler.profile;

import io.skippipe.scheduler.plan.PlanningException;

/**
 * One node (a GPU / Spark executor) of a cluster profile.
 *
 * @param id node id, equal to its index in the profile
 * @param location name of its location; links are looked up by location pair
 * @param speed relative compute speed (1.0 = the profile's computeSecondsPerSampleLayer)
 * @param memoryMicrobatches microbatch activations it can hold (forward done, backward not)
 * @param lost whether the node is gone (executor lost); a lost node keeps its id so that the
 *     surviving nodes keep theirs, but no stage lists it and no path visits it
 */
public record Node(int id, String location, double speed, int memoryMicrobatches, boolean lost) {
  public Node {
    if (location == null || location.isBlank()) {
      throw PlanningException.of("node " + id + " location '" + location + "'",
          "every node needs a location name", "add \"location\": \"NAME\" to the node");
    }
    if (!(speed > 0) || Double.isInfinite(speed)) {
      throw PlanningException.of("node " + id + " speed " + speed,
          "speed must be a positive finite number", "use 1.0 for a reference-speed node");
    }
    if (memoryMicrobatches < 1) {
      throw PlanningException.of("node " + id + " memoryMicrobatches " + memoryMicrobatches,
          "memory too small for any plan: a node must hold at least one microbatch activation",
          "set memoryMicrobatches to 1 or more (the paper uses 3)");
    }
  }

  /** A live node. */
  public Node(int id, String location, double speed, int memoryMicrobatches) {
    this(id, location, speed, memoryMicrobatches, false);
  }

  /** This node marked lost (or live again). */
  public Node withLost(boolean isLost) {
    return new Node(id, location, speed, memoryMicrobatches, isLost);
  }
}
