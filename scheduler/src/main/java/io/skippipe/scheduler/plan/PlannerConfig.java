package io.skippipe.scheduler.plan;

import java.util.List;

/**
 * Everything the planner can be told, parsed once at the edge (CLI flags, Spark conf keys), as
 * named nested settings: how nodes are assigned to stages ({@link Allocation}), how the router
 * searches ({@link Routing}) and the path and throughput limits ({@link Limits}).
 *
 * <p>Start from {@link #defaults(String)} and change what you need:
 *
 * <pre>{@code
 * PlannerConfig cfg = PlannerConfig.defaults("skippipe")
 *     .withSeed(11)
 *     .withLimits(PlannerConfig.Limits.defaults().withPathLength(4))
 *     .withAllocation(PlannerConfig.Allocation.defaults().withGcma(50, 500));
 * }</pre>
 *
 * @param method one of {@link Methods#NAMES}
 * @param seed seeds every random choice (allocation, network-oblivious tie-breaking)
 * @param allocation node-to-stage assignment settings
 * @param routing path-search budget
 * @param limits path length (or skip ratio), convergence and throughput limits
 */
public record PlannerConfig(
    String method, long seed, Allocation allocation, Routing routing, Limits limits) {

  public static final long DEFAULT_SEED = 5;

  /** Allocator names accepted by {@link Allocation#allocator()}. */
  public static final List<String> ALLOCATORS =
      List.of("auto", "skip-aware", "genetic", "dtfm", "in-order");

  /** Objectives accepted by {@link Allocation#objective()}. */
  public static final List<String> OBJECTIVES = List.of("iteration", "pipeline");

  public PlannerConfig {
    if (method == null || !Methods.NAMES.contains(method)) {
      throw PlanningException.of("method '" + method + "'", "unknown method",
          "use one of " + Methods.NAMES);
    }
    if (allocation == null || routing == null || limits == null) {
      throw new IllegalArgumentException("allocation, routing and limits must be given"
          + " (start from PlannerConfig.defaults(method))");
    }
  }

  /**
   * How nodes are assigned to stages.
   *
   * @param allocator {@code auto} (GCMA for {@code dtfm}, skip-aware for the skipping methods),
   *     {@code skip-aware}, {@code genetic} (GCMA), {@code dtfm} (DT-FM's objective) or
   *     {@code in-order}
   * @param stages a fixed allocation (skips the allocator), or null
   * @param gcmaPopulation GCMA population (spec: 200)
   * @param gcmaTrials GCMA offspring (spec: 8000)
   * @param evaluations candidate allocations the skip-aware search scores (each routed and
   *     simulated; see {@code allocate.SkipAwareAllocator})
   * @param objective what the skip-aware search minimises: {@code iteration} (whole iteration:
   *     pipeline, stage all-reduce, scalar exchange, optimizer step) or {@code pipeline} (the
   *     paper's metric)
   */
  public record Allocation(String allocator, List<List<Integer>> stages, int gcmaPopulation,
      int gcmaTrials, int evaluations, String objective) {
    public Allocation {
      if (allocator == null || !ALLOCATORS.contains(allocator)) {
        throw PlanningException.of("allocator '" + allocator + "'", "unknown allocator",
            "use one of " + ALLOCATORS);
      }
      if (gcmaPopulation < 2 || gcmaTrials < 0) {
        throw PlanningException.of("GCMA population " + gcmaPopulation + " / trials "
                + gcmaTrials, "population must be >= 2 and trials >= 0",
            "use the defaults 200 / 8000");
      }
      if (evaluations < 0) {
        throw PlanningException.of("allocation evaluations " + evaluations,
            "must be >= 0 (0 = keep GCMA's stages)", "use the default 160");
      }
      if (objective == null || !OBJECTIVES.contains(objective)) {
        throw PlanningException.of("allocation objective '" + objective + "'",
            "unknown objective", "use one of " + OBJECTIVES);
      }
      stages = stages == null ? null : stages.stream().map(List::copyOf).toList();
    }

    /** GCMA 200 / 8000 (the paper), 160 skip-aware evaluations, whole-iteration objective. */
    public static Allocation defaults() {
      return new Allocation("auto", null, 200, 8000, 160, "iteration");
    }

    public Allocation withAllocator(String a) {
      return new Allocation(a, stages, gcmaPopulation, gcmaTrials, evaluations, objective);
    }

    public Allocation withStages(List<List<Integer>> s) {
      return new Allocation(allocator, s, gcmaPopulation, gcmaTrials, evaluations, objective);
    }

    public Allocation withGcma(int population, int trials) {
      return new Allocation(allocator, stages, population, trials, evaluations, objective);
    }

    public Allocation withEvaluations(int e) {
      return new Allocation(allocator, stages, gcmaPopulation, gcmaTrials, e, objective);
    }

    public Allocation withObjective(String o) {
      return new Allocation(allocator, stages, gcmaPopulation, gcmaTrials, evaluations, o);
    }

    /** The allocator a method actually uses: {@code auto} resolved. */
    public String allocatorFor(String method) {
      if (!allocator.equals("auto")) {
        return allocator;
      }
      return Methods.isFullPipeline(method) ? "genetic" : "skip-aware";
    }
  }

  /**
   * Budget of the conflict-based search (spec §4.2).
   *
   * @param cbsMaxNodes constraint-tree nodes expanded at most
   * @param cbsGoals collision-free nodes after which the TC2 search stops (spec: 8)
   * @param cbsBranching children per TC1 conflict (spec: 3)
   */
  public record Routing(int cbsMaxNodes, int cbsGoals, int cbsBranching) {
    public Routing {
      if (cbsMaxNodes < 1 || cbsGoals < 1 || cbsBranching < 1) {
        throw PlanningException.of("CBS maxNodes " + cbsMaxNodes + " / goals " + cbsGoals
            + " / branching " + cbsBranching, "must be positive", "use the defaults 2000 / 8 / 3");
      }
    }

    public static Routing defaults() {
      return new Routing(2000, 8, 3);
    }
  }

  /**
   * Path and throughput limits. Null means "the default": path length {@link
   * #defaultPathLength(int)}, memory the smallest node memory, stage cap {@code (smallest
   * non-data stage) × memory} (spec §2.2: #S_1·mem).
   *
   * @param skipRatio k = 1 − ℓ/K, or null
   * @param pathLength ℓ, or null (at most one of skipRatio and pathLength)
   * @param maxSwaps CC: swaps per path (spec HEAD: 2)
   * @param maxSwapDistance CC: stages one swap may go back (spec: 1)
   * @param maxJump CC: stages one hop may move from the frontier (spec: 4)
   * @param memory TC1-b cap, or null
   * @param stageCap TC1-a cap, or null
   */
  public record Limits(Double skipRatio, Integer pathLength, int maxSwaps, int maxSwapDistance,
      int maxJump, Integer memory, Integer stageCap) {
    public Limits {
      if (skipRatio != null && pathLength != null) {
        throw PlanningException.of("skip ratio " + skipRatio + " and path length " + pathLength,
            "give at most one of them (k = 1 - pathLength/stages)", "drop one of the two flags");
      }
      if (skipRatio != null && (!(skipRatio >= 0) || skipRatio >= 1)) {
        throw PlanningException.of("skip ratio " + skipRatio,
            "must be in [0, 1): the fraction of stages a microbatch skips",
            "use e.g. 0.33 (4 of 6 stages) or 0 (full pipeline)");
      }
    }

    /**
     * The default path length ℓ on K stages, {@code K − ceil(K/4)}: the reference's settings
     * (4 of 6 stages, 6 of 8, 3 of 4). The one definition the planner, the tuner and the job
     * ({@code spark.skippipe.plan.skipRatio} left empty) share.
     */
    public static int defaultPathLength(int stages) {
      return stages - (stages + 3) / 4;
    }

    /** Default path length and caps, 2 swaps of distance 1, jumps of at most 4 (spec HEAD). */
    public static Limits defaults() {
      return new Limits(null, null, 2, 1, 4, null, null);
    }

    public Limits withSkipRatio(Double k) {
      return new Limits(k, null, maxSwaps, maxSwapDistance, maxJump, memory, stageCap);
    }

    public Limits withPathLength(Integer l) {
      return new Limits(null, l, maxSwaps, maxSwapDistance, maxJump, memory, stageCap);
    }

    public Limits withSwaps(int swaps, int distance) {
      return new Limits(skipRatio, pathLength, swaps, distance, maxJump, memory, stageCap);
    }

    public Limits withMaxJump(int j) {
      return new Limits(skipRatio, pathLength, maxSwaps, maxSwapDistance, j, memory, stageCap);
    }

    public Limits withMemory(Integer m) {
      return new Limits(skipRatio, pathLength, maxSwaps, maxSwapDistance, maxJump, m, stageCap);
    }

    public Limits withStageCap(Integer c) {
      return new Limits(skipRatio, pathLength, maxSwaps, maxSwapDistance, maxJump, memory, c);
    }
  }

  /** The defaults of every setting for a method. */
  public static PlannerConfig defaults(String method) {
    return new PlannerConfig(method, DEFAULT_SEED, Allocation.defaults(), Routing.defaults(),
        Limits.defaults());
  }

  public PlannerConfig withMethod(String m) {
    return new PlannerConfig(m, seed, allocation, routing, limits);
  }

  public PlannerConfig withSeed(long s) {
    return new PlannerConfig(method, s, allocation, routing, limits);
  }

  public PlannerConfig withAllocation(Allocation a) {
    return new PlannerConfig(method, seed, a, routing, limits);
  }

  public PlannerConfig withRouting(Routing r) {
    return new PlannerConfig(method, seed, allocation, r, limits);
  }

  public PlannerConfig withLimits(Limits l) {
    return new PlannerConfig(method, seed, allocation, routing, l);
  }

  /** This config with a fixed allocation (the allocator is skipped). */
  public PlannerConfig withStages(List<List<Integer>> s) {
    return withAllocation(allocation.withStages(s));
  }

  /** The fixed allocation, or null. */
  public List<List<Integer>> stages() {
    return allocation.stages();
  }
}
