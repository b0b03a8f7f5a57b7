package io.skippipe.scheduler.route;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.PlanningException;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The skipping methods, all CBS over time-aware A* (spec §4.6):
 *
 * <ul>
 *   <li>{@code skippipe}: real network costs, TC1 + TC2, candidates ranked by the simulator;
 *   <li>{@code skippipe-no-tc2}: real network costs, TC1 only (first TC1-feasible node);
 *   <li>{@code dtfm-skip}: network-oblivious — every hop and task costs one second and A* ties
 *       break on a seeded random node order, TC1 only.
 * </ul>
 */
public final class CbsRouter implements Router {
  private final String name;
  private final boolean tc2;
  private final boolean networkOblivious;

  public CbsRouter(String name, boolean tc2, boolean networkOblivious) {
    this.name = name;
    this.tc2 = tc2;
    this.networkOblivious = networkOblivious;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Schedule route(List<List<Integer>> stages, CostModel costs, RouteConfig cfg,
      RandomGenerator rng) {
    Search search = search(stages, costs, cfg, rng);
    ConflictBasedSearch.Result r = search.cbs().search();
    if (r == null) {
      throw PlanningException.of("constraints " + cfg.limits() + " with "
              + search.agents() + " paths (" + cfg.slotsPerDataNode() + " per data node) on stages "
              + stages, "no set of paths satisfies the convergence constraints and TC1 (stage"
              + " cap, node memory) within " + cfg.cbsMaxNodes() + " search nodes",
          "raise memory or stageCap, lower the path length, relax maxJump/maxSwaps, or raise"
              + " cbsMaxNodes");
    }
    return search.toSchedule().apply(r.paths());
  }

  /**
   * A cheap schedule for scoring candidate allocations: prioritized planning (every agent's
   * time-optimal path around the stages and nodes the agents before it filled), without the
   * constraint-tree search; null when some agent has no path. It may exceed a TC1 cap where an
   * agent had no other way, so it is an estimate, not a plan.
   */
  public Schedule quickRoute(List<List<Integer>> stages, CostModel costs, RouteConfig cfg,
      RandomGenerator rng) {
    Search search = search(stages, costs, cfg, rng);
    int[][] paths = search.cbs().quickPaths();
    return paths == null ? null : search.toSchedule().apply(paths);
  }

  /** A prepared search: the CBS instance, its agent count, and paths → schedule. */
  private record Search(ConflictBasedSearch cbs, int agents,
      java.util.function.Function<int[][], Schedule> toSchedule) {}

  private Search search(List<List<Integer>> stages, CostModel costs, RouteConfig cfg,
      RandomGenerator rng) {
    CostModel searchCosts = networkOblivious ? costs.unitGraph() : costs;
    List<Integer> dataNodes = stages.get(0);
    List<Integer> slots = cfg.slotsPerDataNode();
    List<Agent> agents = new ArrayList<>();
    int[] firstAgent = new int[dataNodes.size()];
    for (int i = 0; i < dataNodes.size(); i++) {
      int d = dataNodes.get(i);
      firstAgent[i] = agents.size();
      for (int k = 0; k < slots.get(i); k++) {
        agents.add(new Agent(agents.size(), d, k, k * searchCosts.forwardMicros(d)));
      }
    }
    int[][] tieRank = null;
    if (networkOblivious) {
      tieRank = new int[agents.size()][costs.size()];
      for (int[] row : tieRank) {
        for (int x = 0; x < row.length; x++) {
          row[x] = x;
        }
        for (int x = row.length - 1; x > 0; x--) {
          int j = rng.nextInt(x + 1);
          int t = row[x];
          row[x] = row[j];
          row[j] = t;
        }
      }
    }
    int m = cfg.microbatchesPerDataNode();
    java.util.function.Function<int[][], Schedule> toSchedule = paths -> {
      List<Microbatch> mbs = new ArrayList<>();
      for (int i = 0; i < dataNodes.size(); i++) {
        for (int j = 0; j < m; j++) {
          int[] p = paths[firstAgent[i] + j % slots.get(i)];
          mbs.add(new Microbatch(i * m + j, dataNodes.get(i), 0, Path.of(p)));
        }
      }
      return new Schedule(stages, mbs);
    };
    ConflictBasedSearch cbs = new ConflictBasedSearch(searchCosts, stages, cfg.limits(), agents,
        new ConflictBasedSearch.Options(tc2, cfg.cbsMaxNodes(), cfg.cbsGoals(),
            cfg.cbsBranching(), tieRank), toSchedule, costs);
    return new Search(cbs, agents.size(), toSchedule);
  }
}
