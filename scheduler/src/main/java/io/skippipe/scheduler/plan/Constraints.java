package io.skippipe.scheduler.plan;

/**
 * The limits every path and schedule must respect (DESIGN.md §4, spec §2), all config values.
 *
 * @param pathLength stages a microbatch visits, stage 0 included (ℓ; skip ratio k = 1 − ℓ/K) — CC
 * @param maxSwaps how often a path may go back to a stage below its highest stage so far — CC
 * @param maxSwapDistance how far back one swap may go, in stages — CC
 * @param maxJump how far forward (or back) one hop may move from the highest stage so far — CC
 * @param memory TC1-b: distinct paths through one non-data node (the activations it can hold)
 * @param stageCap TC1-a: distinct paths through one non-data stage
 */
public record Constraints(
    int pathLength, int maxSwaps, int maxSwapDistance, int maxJump, int memory, int stageCap) {
  public Constraints {
    if (pathLength < 1) {
      throw PlanningException.of("pathLength " + pathLength,
          "a path visits at least its data node's stage", "use a path length of 1 or more");
    }
    if (maxSwaps < 0 || maxSwapDistance < 0) {
      throw PlanningException.of("maxSwaps " + maxSwaps + " / maxSwapDistance " + maxSwapDistance,
          "swap limits cannot be negative", "use 0 to forbid swaps");
    }
    if (maxJump < 1) {
      throw PlanningException.of("maxJump " + maxJump, "a path must be able to move one stage",
          "use maxJump 1 or more (the paper uses 4)");
    }
    if (memory < 1) {
      throw PlanningException.of("memory " + memory,
          "memory too small for any plan: a node must hold at least one microbatch",
          "use memory 1 or more (the paper uses 3)");
    }
    if (stageCap < 1) {
      throw PlanningException.of("stageCap " + stageCap,
          "each non-data stage must accept at least one path", "use stageCap 1 or more");
    }
  }
}
