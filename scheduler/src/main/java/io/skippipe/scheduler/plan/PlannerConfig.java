package io.skippipe.scheduler.plan;

import java.util.List;

/**
 * Everything the planner can be told, parsed once at the edge (CLI flags, Spark conf keys). Null
 * means "the default": path length {@code K − ceil(K/4)} (the reference's ℓ=4 of 6, 6 of 8, 3 of
 * 4),
 * memory the smallest node memory, stage cap {@code (smallest non-data stage) × memory} (spec
 * §2.2: #S_1·mem).
 *
 * @param method one of {@link Methods#NAMES}
 * @param skipRatio k = 1 − ℓ/K, or null
 * @param pathLength ℓ, or null (at most one of skipRatio and pathLength)
 * @param seed seeds every random choice (GCMA, network-oblivious tie-breaking)
 * @param stages a fixed allocation (skips the allocator), or null
 * @param allocator "genetic" (GCMA), "dtfm" or "in-order"
 * @param gcmaPopulation GCMA population (spec: 200)
 * @param gcmaTrials GCMA offspring (spec: 8000)
 * @param maxSwaps CC: swaps per path (spec HEAD: 2)
 * @param maxSwapDistance CC: stages one swap may go back (spec: 1)
 * @param maxJump CC: stages one hop may move from the frontier (spec: 4)
 * @param memory TC1-b cap, or null
 * @param stageCap TC1-a cap, or null
 * @param cbsMaxNodes CBS constraint-tree nodes expanded at most
 * @param cbsGoals collision-free CBS nodes after which the TC2 search stops (spec: 8)
 * @param cbsBranching children per TC1 conflict (spec: 3)
 */
public record PlannerConfig(
    String method,
    Double skipRatio,
    Integer pathLength,
    long seed,
    List<List<Integer>> stages,
    String allocator,
    int gcmaPopulation,
    int gcmaTrials,
    int maxSwaps,
    int maxSwapDistance,
    int maxJump,
    Integer memory,
    Integer stageCap,
    int cbsMaxNodes,
    int cbsGoals,
    int cbsBranching) {

  public static final long DEFAULT_SEED = 5;

  public PlannerConfig {
    if (method == null || !Methods.NAMES.contains(method)) {
      throw PlanningException.of("method '" + method + "'", "unknown method",
          "use one of " + Methods.NAMES);
    }
    if (skipRatio != null && pathLength != null) {
      throw PlanningException.of("skip ratio " + skipRatio + " and path length " + pathLength,
          "give at most one of them (k = 1 - pathLength/stages)", "drop one of the two flags");
    }
    if (skipRatio != null && (!(skipRatio >= 0) || skipRatio >= 1)) {
      throw PlanningException.of("skip ratio " + skipRatio,
          "must be in [0, 1): the fraction of stages a microbatch skips",
          "use e.g. 0.33 (4 of 6 stages) or 0 (full pipeline)");
    }
    if (allocator == null || !List.of("genetic", "dtfm", "in-order").contains(allocator)) {
      throw PlanningException.of("allocator '" + allocator + "'", "unknown allocator",
          "use genetic, dtfm or in-order");
    }
    if (gcmaPopulation < 2 || gcmaTrials < 0) {
      throw PlanningException.of("GCMA population " + gcmaPopulation + " / trials " + gcmaTrials,
          "population must be >= 2 and trials >= 0", "use the defaults 200 / 8000");
    }
    if (cbsMaxNodes < 1 || cbsGoals < 1 || cbsBranching < 1) {
      throw PlanningException.of("CBS maxNodes " + cbsMaxNodes + " / goals " + cbsGoals
          + " / branching " + cbsBranching, "must be positive", "use the defaults");
    }
  }

  /** The defaults of every setting for a method. */
  public static PlannerConfig defaults(String method) {
    return new PlannerConfig(method, null, null, DEFAULT_SEED, null, "genetic", 200, 8000, 2, 1,
        4, null, null, 2000, 8, 3);
  }

  public PlannerConfig withMethod(String m) {
    return new PlannerConfig(m, skipRatio, pathLength, seed, stages, allocator, gcmaPopulation,
        gcmaTrials, maxSwaps, maxSwapDistance, maxJump, memory, stageCap, cbsMaxNodes, cbsGoals,
        cbsBranching);
  }

  public PlannerConfig withStages(List<List<Integer>> s) {
    return new PlannerConfig(method, skipRatio, pathLength, seed, s, allocator, gcmaPopulation,
        gcmaTrials, maxSwaps, maxSwapDistance, maxJump, memory, stageCap, cbsMaxNodes, cbsGoals,
        cbsBranching);
  }
}
