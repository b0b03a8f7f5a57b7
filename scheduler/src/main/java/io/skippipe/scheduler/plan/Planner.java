package io.skippipe.scheduler.plan;

import io.skippipe.scheduler.allocate.Allocator;
import io.skippipe.scheduler.allocate.DtfmAllocator;
import io.skippipe.scheduler.allocate.GeneticAllocator;
import io.skippipe.scheduler.allocate.InOrderAllocator;
import io.skippipe.scheduler.allocate.RingOrder;
import io.skippipe.scheduler.allocate.SkipAwareAllocator;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.route.CbsRouter;
import io.skippipe.scheduler.route.RouteConfig;
import io.skippipe.scheduler.route.Router;
import io.skippipe.scheduler.route.Schedule;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * The planner: profile → cost model → allocation → routes → simulation → validation → plan.
 * Deterministic for a given seed.
 */
public final class Planner {
  private Planner() {}

  /** Plans one method on a cluster and model. Bad input throws {@link PlanningException}. */
  public static Plan plan(ClusterProfile profile, ModelSpec model, PlannerConfig cfg) {
    Constraints limits = Inputs.check(profile, model, cfg);
    CostModel costs = CostModel.of(profile, model);
    List<List<List<Integer>>> candidates = cfg.stages() != null ? List.of(cfg.stages())
        : allocate(profile, model, costs, cfg, limits);
    Plan best = null;
    for (List<List<Integer>> stages : candidates) {
      Plan p = route(profile, model, cfg, limits, costs, stages);
      if (best == null || objective(p, cfg) < objective(best, cfg)) {
        best = p;
      }
    }
    return best;
  }

  /** Routes, simulates and validates one allocation. */
  static Plan route(ClusterProfile profile, ModelSpec model, PlannerConfig cfg,
      Constraints limits, CostModel costs, List<List<Integer>> stages) {
    RouteConfig routing = Inputs.routeConfig(profile, model, cfg, limits, stages);
    Schedule schedule = Methods.router(cfg.method()).route(stages, costs, routing, rng(cfg, 1));
    SimulationResult sim = simulate(schedule, costs);
    Plan plan = toPlan(cfg, profile, model, Inputs.limitsOf(cfg.method(), limits, stages),
        schedule, sim);
    ValidationReport report = ScheduleValidator.check(plan, sim.spans());
    report.throwIfInvalid();
    if (!report.warnings().isEmpty()) {
      throw new IllegalStateException("the " + cfg.method() + " router exceeded its own"
          + " throughput caps: " + report.warnings());
    }
    return plan;
  }

  /** The seconds the allocation search minimises: whole iteration or pipeline phase. */
  static double objective(Plan p, PlannerConfig cfg) {
    return cfg.allocation().objective().equals("pipeline") ? p.pipelineSeconds()
        : p.iterationSeconds();
  }

  private static SimulationResult simulate(Schedule schedule, CostModel costs) {
    SimulationResult sim = Simulator.run(schedule, costs);
    if (sim.deadlocked()) {
      throw new IllegalStateException("the " + schedule.microbatches().size() + "-microbatch "
          + "schedule deadlocks in simulation (memory caps of crossing paths block each other)");
    }
    return sim;
  }

  /**
   * The allocation step alone with the method's allocator (compare runs it once and shares it).
   * For {@code skip-aware} it is the allocation the planner would choose: GCMA's or the search's
   * best, whichever routes better.
   */
  public static List<List<Integer>> allocate(CostModel costs, ClusterProfile profile,
      ModelSpec model, PlannerConfig cfg) {
    Constraints limits = Inputs.check(profile, model, cfg);
    List<List<List<Integer>>> c = allocate(profile, model, costs, cfg, limits);
    return c.size() == 1 ? c.get(0) : plan(profile, model, cfg).stages();
  }

  /**
   * Candidate allocations, to be routed and compared by {@link #objective}: one for GCMA,
   * DT-FM's objective and in-order; for {@code skip-aware} GCMA's and the search's best (GCMA's
   * first, so it wins ties).
   */
  private static List<List<List<Integer>>> allocate(ClusterProfile profile, ModelSpec model,
      CostModel costs, PlannerConfig cfg, Constraints limits) {
    PlannerConfig.Allocation a = cfg.allocation();
    String name = a.allocatorFor(cfg.method());
    Allocator allocator = switch (name) {
      case "dtfm" -> new DtfmAllocator(a.gcmaPopulation(), a.gcmaTrials());
      case "in-order" -> new InOrderAllocator();
      default -> new GeneticAllocator(a.gcmaPopulation(), a.gcmaTrials());
    };
    List<List<Integer>> first = onLiveNodes(allocator, costs, profile, rng(cfg, 0));
    if (!name.equals("skip-aware") || a.evaluations() == 0) {
      return List.of(first);
    }
    SkipAwareAllocator.Result r = new SkipAwareAllocator(a.evaluations()).improve(first,
        scorer(profile, model, cfg, limits, costs), false, new boolean[first.size()],
        new boolean[first.size()], rng(cfg, 2));
    return List.of(first, ringOrdered(r.stages(), costs));
  }

  /**
   * The skip-aware search's score of a candidate allocation of {@code profile}'s live nodes (its
   * stage sizes must match the candidate's): see {@link #scorer}.
   *
   * @throws PlanningException when the profile, model and limits do not fit together
   */
  public static SkipAwareAllocator.Scorer skipAwareScorer(ClusterProfile profile, ModelSpec model,
      PlannerConfig cfg) {
    return scorer(profile, model, cfg, Inputs.check(profile, model, cfg),
        CostModel.of(profile, model));
  }

  /**
   * The skip-aware search's score of a candidate: the method's router's cheap prioritized
   * routing on the ring-ordered stages, simulated (whole iteration or pipeline, per the
   * objective); infinite when it cannot be routed or deadlocks.
   */
  static SkipAwareAllocator.Scorer scorer(ClusterProfile profile, ModelSpec model,
      PlannerConfig cfg, Constraints limits, CostModel costs) {
    Router router = Methods.router(cfg.method());
    boolean pipeline = cfg.allocation().objective().equals("pipeline");
    return stages -> {
      if (!(router instanceof CbsRouter cbs)) {
        return Double.POSITIVE_INFINITY;
      }
      List<List<Integer>> ordered = ringOrdered(stages, costs);
      RouteConfig routing;
      try {
        routing = Inputs.routeConfig(profile, model, cfg, limits, ordered);
      } catch (PlanningException e) {
        return Double.POSITIVE_INFINITY;
      }
      Schedule s = cbs.quickRoute(ordered, costs, routing, rng(cfg, 1));
      if (s == null) {
        return Double.POSITIVE_INFINITY;
      }
      SimulationResult sim = Simulator.run(s, costs);
      return pipeline ? sim.pipelineSeconds() : sim.iterationSeconds();
    };
  }

  /** Every stage's replicas in their cheapest all-reduce ring order. */
  static List<List<Integer>> ringOrdered(List<List<Integer>> stages, CostModel costs) {
    List<List<Integer>> out = new ArrayList<>();
    for (int s = 0; s < stages.size(); s++) {
      out.add(RingOrder.best(stages.get(s), costs, costs.gradientBytes(s)));
    }
    return out;
  }

  /**
   * Runs an allocator on the live nodes and the non-empty stages only (after node loss), mapping
   * its answer back to node ids and stage indices.
   */
  private static List<List<Integer>> onLiveNodes(Allocator allocator, CostModel costs,
      ClusterProfile profile, RandomGenerator rng) {
    List<Integer> live = profile.liveNodes();
    List<Integer> sizes = profile.stageSizes();
    if (live.size() == profile.size() && !sizes.contains(0)) {
      return allocator.allocate(costs, sizes, rng).stages();
    }
    int[] ids = live.stream().mapToInt(Integer::intValue).toArray();
    List<Integer> liveSizes = sizes.stream().filter(x -> x > 0).toList();
    List<List<Integer>> sub = allocator.allocate(costs.restrictTo(ids), liveSizes, rng).stages();
    List<List<Integer>> out = new ArrayList<>();
    int next = 0;
    for (int size : sizes) {
      if (size == 0) {
        out.add(List.of());
      } else {
        out.add(sub.get(next++).stream().map(i -> ids[i]).toList());
      }
    }
    return out;
  }

  /** An independent, seeded stream per planning phase. */
  static RandomGenerator rng(PlannerConfig cfg, int phase) {
    return RandomGeneratorFactory.of("L64X128MixRandom").create(cfg.seed() * 1_000_003L + phase);
  }

  private static Plan toPlan(PlannerConfig cfg, ClusterProfile profile, ModelSpec model,
      Constraints limits, Schedule schedule, SimulationResult sim) {
    List<PlannedMicrobatch> mbs = new ArrayList<>();
    for (var m : schedule.microbatches()) {
      mbs.add(new PlannedMicrobatch(m.id(), m.dataNode(), m.releaseMicros() / 1e6,
          m.path().nodes()));
    }
    return new Plan(Plan.FORMAT, cfg.method(), cfg.seed(), profile, model, limits,
        schedule.stages(), mbs,
        new Plan.Predicted(sim.iterationSeconds(), sim.pipelineSeconds(), null));
  }
}
