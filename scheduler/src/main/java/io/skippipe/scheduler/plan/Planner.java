package io.skippipe.scheduler.plan;

import io.skippipe.scheduler.allocate.Allocation;
import io.skippipe.scheduler.allocate.Allocator;
import io.skippipe.scheduler.allocate.DtfmAllocator;
import io.skippipe.scheduler.allocate.GeneticAllocator;
import io.skippipe.scheduler.allocate.InOrderAllocator;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.route.RouteConfig;
import io.skippipe.scheduler.route.Schedule;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
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
    List<List<Integer>> stages =
        cfg.stages() != null ? cfg.stages() : allocate(costs, profile, cfg);
    RouteConfig routing = Inputs.routeConfig(profile, model, cfg, limits, stages);
    Schedule schedule = Methods.router(cfg.method()).route(stages, costs, routing, rng(cfg, 1));
    SimulationResult sim = simulate(schedule, costs);
    Plan plan = toPlan(cfg, profile, model, Inputs.limitsOf(cfg.method(), limits, stages), schedule,
        sim);
    ScheduleValidator.check(plan, sim.spans()).throwIfInvalid();
    return plan;
  }

  private static SimulationResult simulate(Schedule schedule, CostModel costs) {
    SimulationResult sim = Simulator.run(schedule, costs);
    if (sim.deadlocked()) {
      throw new IllegalStateException("the " + schedule.microbatches().size() + "-microbatch "
          + "schedule deadlocks in simulation (memory caps of crossing paths block each other)");
    }
    return sim;
  }

  /** The allocation step alone (compare runs it once and shares it between methods). */
  public static List<List<Integer>> allocate(CostModel costs, ClusterProfile profile,
      PlannerConfig cfg) {
    Allocator allocator = switch (cfg.allocator()) {
      case "dtfm" -> new DtfmAllocator(cfg.gcmaPopulation(), cfg.gcmaTrials());
      case "in-order" -> new InOrderAllocator();
      default -> new GeneticAllocator(cfg.gcmaPopulation(), cfg.gcmaTrials());
    };
    Allocation a = allocator.allocate(costs, profile.stageSizes(), rng(cfg, 0));
    return a.stages();
  }

  /** An independent, seeded stream per planning phase. */
  private static RandomGenerator rng(PlannerConfig cfg, int phase) {
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
        schedule.stages(), mbs, new Plan.Predicted(sim.iterationSeconds(), null));
  }
}
