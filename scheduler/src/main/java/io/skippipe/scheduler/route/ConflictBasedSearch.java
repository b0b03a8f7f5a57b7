package io.skippipe.scheduler.route;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.Function;

/**
 * Conflict-Based Search over {@link TimeAwareAStar} (Sharon et al., AIJ 2015; SkipPipe spec
 * §4.2, intended behaviour). A constraint-tree node holds every agent's constraints and path; the
 * node with the smallest makespan (then fewest TC1 excess visits, then smallest sum of completion
 * times, then creation order) is expanded first. Its first conflict is split into children, each
 * adding one constraint to one agent, and only that agent is re-planned:
 *
 * <ul>
 *   <li>TC1-a stage cap: the first stage visited by more than stageCap paths; one child per agent
 *       on it (fastest first, at most {@code branching}) forbids the stage for that agent;
 *   <li>TC1-b node memory: the first non-data node visited by more than memory paths; children
 *       forbid the node, likewise;
 *   <li>TC2 collision (only when enabled and TC1 holds): the first pair of visits overlapping on a
 *       node where not both are backward/loss; the later one must wait for the earlier one (and,
 *       for two forwards, a second child makes the earlier one wait instead).
 * </ul>
 *
 * <p>Without TC2 the first node satisfying TC1 is the answer. With TC2 every TC1-feasible node
 * popped is a candidate schedule; candidates are ranked by the discrete-event simulator over all
 * microbatches, and the search stops after {@code goals} collision-free nodes or {@code maxNodes}
 * expansions, returning the best candidate. Because the search order until the first
 * TC1-feasible node is the same with and without TC2, the TC2 result is never worse (in
 * simulated iteration time) than the TC1-only result.
 */
final class ConflictBasedSearch {
  /** Search options; {@code tieRank} per agent per node breaks A* ties (null = node id). */
  record Options(boolean tc2, int maxNodes, int goals, int branching, int[][] tieRank) {}

  /** What the search returns: a path per agent, and how much work it took. */
  record Result(int[][] paths, int expanded, int candidates, double bestIterationSeconds) {}

  private static final boolean DEBUG = Boolean.getBoolean("skippipe.cbs.debug");
  private final CostModel costs;
  private final List<List<Integer>> stages;
  private final int[] stageOf;
  private final Constraints limits;
  private final List<Agent> agents;
  private final TimeAwareAStar astar;
  private final Options options;
  private final Function<int[][], Schedule> toSchedule;
  private final CostModel simulationCosts;

  /**
   * @param toSchedule turns one path per agent into the full microbatch schedule to simulate
   * @param simulationCosts the cost model candidates are ranked on (the real network)
   */
  ConflictBasedSearch(CostModel costs, List<List<Integer>> stages, Constraints limits,
      List<Agent> agents, Options options, Function<int[][], Schedule> toSchedule,
      CostModel simulationCosts) {
    this.costs = costs;
    this.stages = stages;
    this.stageOf = new Schedule(stages, List.of()).stageOf(costs.size());
    this.limits = limits;
    this.agents = agents;
    this.options = options;
    this.astar = new TimeAwareAStar(costs, stages, stageOf, limits);
    this.toSchedule = toSchedule;
    this.simulationCosts = simulationCosts;
  }

  /** A constraint-tree node. Arrays are shared with the parent except the changed agent's row. */
  private record CtNode(long[] avoidStages, boolean[][] avoidNodes, List<List<Constraint>> waits,
      AgentPlan[] plans, long makespan, long excess, long sumEnd, long seq) {}

  private long seq;
  private int expanded;
  private int candidates;
  private int[][] best;
  private double bestTime = Double.POSITIVE_INFINITY;
  private final Set<String> simulated = new HashSet<>();

  /**
   * Runs the search; returns null when no node satisfying TC1 was found within the budget.
   *
   * <p>Phase 1 is textbook CBS: the root gives every agent its own best path, conflicts are split
   * as described above (with {@code 2/5} of the node budget). Phase 2 (when phase 1 found no
   * TC1-feasible node, or to collect more TC2 candidates) starts from prioritized-planning roots:
   * agents in order of slot, then data node (every data node's first path before anyone's
   * second), each avoiding the stages and nodes the agents before it already fill to their caps;
   * one of these roots also makes each agent take the stages the agents after it will need (a
   * capacity look-ahead, so the last agents are not stranded when the caps are tight).
   */
  Result search() {
    int a = agents.size();
    List<List<Constraint>> waits = new ArrayList<>();
    for (int i = 0; i < a; i++) {
      waits.add(List.of());
    }
    AgentPlan[] independent = new AgentPlan[a];
    for (int i = 0; i < a; i++) {
      independent[i] = astar.plan(agents.get(i), 0L, null, List.of(), tie(i));
      if (independent[i] == null) {
        return null;
      }
    }
    int[][] first = explore(List.of(node(new long[a], new boolean[a][], waits, independent,
        seq++)), options.maxNodes() * 2 / 5);
    if (!options.tc2() && first != null) {
      return new Result(first, expanded, 1, Double.NaN);
    }
    List<CtNode> roots = new ArrayList<>();
    for (boolean lookAhead : new boolean[] {true, false}) {
      AgentPlan[] plans = prioritized(lookAhead);
      if (plans != null) {
        roots.add(node(new long[a], new boolean[a][], waits, plans, seq++));
      }
    }
    int[][] second = explore(roots, options.maxNodes() - expanded);
    if (!options.tc2()) {
      return second == null ? null : new Result(second, expanded, 1, Double.NaN);
    }
    return best == null ? null : new Result(best, expanded, candidates, bestTime);
  }

  /**
   * Prioritized planning (one agent after the other in slot-major order, each avoiding the stages
   * and nodes the agents before it fill to their caps; with {@code lookAhead} also taking the
   * stages the remaining agents will need). Null when some agent has no path at all. The result
   * may still exceed a cap where an agent had no other way.
   */
  AgentPlan[] prioritized(boolean lookAhead) {
    int a = agents.size();
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < a; i++) {
      order.add(i);
    }
    order.sort((x, y) -> agents.get(x).slot() != agents.get(y).slot()
        ? Integer.compare(agents.get(x).slot(), agents.get(y).slot()) : Integer.compare(x, y));
    AgentPlan[] plans = new AgentPlan[a];
    for (int r = 0; r < order.size(); r++) {
      int i = order.get(r);
      long require = lookAhead ? requiredForRest(plans, order.size() - 1 - r) : 0L;
      plans[i] = astar.plan(agents.get(i), fullStages(plans, i, 0L), require,
          fullNodes(plans, i, null), List.of(), tie(i));
      if (plans[i] == null) {
        plans[i] = replan(i, plans, 0L, null, List.of());
      }
      if (plans[i] == null) {
        return null;
      }
    }
    return plans;
  }

  /** The paths of {@link #prioritized} with look-ahead (else without), or null. */
  int[][] quickPaths() {
    for (boolean lookAhead : new boolean[] {true, false}) {
      AgentPlan[] plans = prioritized(lookAhead);
      if (plans != null) {
        int[][] out = new int[plans.length][];
        for (int i = 0; i < plans.length; i++) {
          out[i] = plans[i].path();
        }
        return out;
      }
    }
    return null;
  }

  /**
   * Best-first search of the constraint tree from the given roots for at most {@code budget}
   * expansions. Without TC2 returns the first TC1-feasible node's paths (or null); with TC2
   * ranks every TC1-feasible node by simulation into {@link #best} and returns null.
   */
  private int[][] explore(List<CtNode> roots, int budget) {
    PriorityQueue<CtNode> open = new PriorityQueue<>((x, y) -> x.excess != y.excess
        ? Long.compare(x.excess, y.excess) : x.makespan != y.makespan
        ? Long.compare(x.makespan, y.makespan) : x.sumEnd != y.sumEnd
        ? Long.compare(x.sumEnd, y.sumEnd) : Long.compare(x.seq, y.seq));
    open.addAll(roots);
    int goals = 0;
    int used = 0;
    while (!open.isEmpty() && used < budget) {
      CtNode ct = open.poll();
      used++;
      expanded++;
      if (DEBUG && expanded % 250 == 0) {
        System.err.println("cbs " + expanded + " excess " + ct.excess + " makespan "
            + ct.makespan / 1e6 + " open " + open.size());
      }
      Conflict conflict = tc1Conflict(ct);
      if (conflict == null) {
        int[][] paths = paths(ct);
        if (!options.tc2()) {
          return paths;
        }
        String sig = Arrays.deepToString(paths);
        if (simulated.add(sig)) {
          candidates++;
          SimulationResult r = Simulator.run(toSchedule.apply(paths), simulationCosts);
          if (r.iterationSeconds() < bestTime) {
            bestTime = r.iterationSeconds();
            best = paths;
            if (DEBUG) {
              System.err.println("cbs best " + bestTime + " at expansion " + expanded);
            }
          }
        }
        conflict = collision(ct);
        if (conflict == null) {
          if (++goals >= options.goals()) {
            break;
          }
          continue;
        }
      }
      for (Constraint c : conflict.childConstraints()) {
        CtNode child = child(ct, c, seq++);
        if (child != null) {
          open.add(child);
        }
      }
    }
    return null;
  }

  private int[] tie(int agent) {
    return options.tieRank() == null ? null : options.tieRank()[agent];
  }

  private CtNode child(CtNode parent, Constraint c, long seq) {
    int i = c.agent();
    long[] avoidStages = parent.avoidStages;
    boolean[][] avoidNodes = parent.avoidNodes;
    List<List<Constraint>> waits = parent.waits;
    switch (c.kind()) {
      case AVOID_STAGE -> {
        avoidStages = parent.avoidStages.clone();
        avoidStages[i] |= 1L << c.stage();
      }
      case AVOID_NODE -> {
        avoidNodes = parent.avoidNodes.clone();
        boolean[] row = parent.avoidNodes[i] == null ? new boolean[costs.size()]
            : parent.avoidNodes[i].clone();
        row[c.node()] = true;
        avoidNodes[i] = row;
        // A stage with all its nodes forbidden is forbidden.
        int s = stageOf[c.node()];
        boolean all = true;
        for (int x : stages.get(s)) {
          all &= row[x];
        }
        if (all) {
          avoidStages = parent.avoidStages.clone();
          avoidStages[i] |= 1L << s;
        }
      }
      default -> {
        waits = new ArrayList<>(parent.waits);
        List<Constraint> row = new ArrayList<>(parent.waits.get(i));
        row.add(c);
        waits.set(i, List.copyOf(row));
      }
    }
    AgentPlan p = replan(i, parent.plans, avoidStages[i], avoidNodes[i], waits.get(i));
    if (p == null) {
      return null;
    }
    AgentPlan[] plans = parent.plans.clone();
    plans[i] = p;
    return node(avoidStages, avoidNodes, waits, plans, seq);
  }

  /**
   * Plans agent i around the stages and nodes that the other planned agents already fill to
   * their caps (a conflict-avoidance table), so resolving one TC1 conflict does not create
   * another; falls back to the agent's constraints alone when that leaves no path.
   */
  private AgentPlan replan(int i, AgentPlan[] plans, long avoidStages, boolean[] avoidNodes,
      List<Constraint> waits) {
    AgentPlan p = astar.plan(agents.get(i), fullStages(plans, i, avoidStages),
        fullNodes(plans, i, avoidNodes), waits, tie(i));
    if (p == null) {
      p = astar.plan(agents.get(i), avoidStages, avoidNodes, waits, tie(i));
    }
    return p;
  }

  /** Stages the agents other than i fill to stageCap, plus {@code avoid}. */
  private long fullStages(AgentPlan[] plans, int i, long avoid) {
    int[] use = new int[stages.size()];
    for (int j = 0; j < plans.length; j++) {
      if (j != i && plans[j] != null) {
        for (int q = 1; q < plans[j].path().length; q++) {
          use[stageOf[plans[j].path()[q]]]++;
        }
      }
    }
    long full = avoid;
    for (int s = 1; s < use.length; s++) {
      if (use[s] >= limits.stageCap()) {
        full |= 1L << s;
      }
    }
    return full;
  }

  /** Non-data nodes the agents other than i fill to memory, plus {@code avoid}. */
  private boolean[] fullNodes(AgentPlan[] plans, int i, boolean[] avoid) {
    int[] use = new int[costs.size()];
    for (int j = 0; j < plans.length; j++) {
      if (j != i && plans[j] != null) {
        for (int q = 1; q < plans[j].path().length; q++) {
          use[plans[j].path()[q]]++;
        }
      }
    }
    boolean[] full = avoid == null ? new boolean[costs.size()] : avoid.clone();
    for (int x = 0; x < use.length; x++) {
      full[x] |= stageOf[x] != 0 && use[x] >= limits.memory();
    }
    return full;
  }

  /**
   * Stages the next agent must visit so that the {@code rest} agents after it can still find
   * their ℓ−1 distinct stages: with remaining capacity rem_s, they need Σ_s min(rem_s, rest) ≥
   * (ℓ−1)·rest; a visit to a stage with rem_s > rest costs them nothing, any other visit costs
   * one, so the agent must take enough of the former (the fullest ones first).
   */
  private long requiredForRest(AgentPlan[] plans, int rest) {
    int q = limits.pathLength() - 1;
    int[] rem = new int[stages.size()];
    for (int s = 1; s < rem.length; s++) {
      long stageMemory = 0;
      for (int x : stages.get(s)) {
        stageMemory += Math.min(limits.memory(), costs.memory(x));
      }
      rem[s] = (int) Math.min(limits.stageCap(), stageMemory);
    }
    for (AgentPlan p : plans) {
      if (p != null) {
        for (int k = 1; k < p.path().length; k++) {
          rem[stageOf[p.path()[k]]]--;
        }
      }
    }
    long sum = 0;
    List<Integer> free = new ArrayList<>();
    for (int s = 1; s < rem.length; s++) {
      sum += Math.max(0, Math.min(rem[s], rest));
      if (rem[s] > rest) {
        free.add(s);
      }
    }
    long needFree = q - (sum - (long) q * rest);
    if (needFree <= 0) {
      return 0L;
    }
    free.sort((x, y) -> rem[x] != rem[y] ? Integer.compare(rem[y], rem[x]) : Integer.compare(x, y));
    long require = 0;
    for (int k = 0; k < Math.min(needFree, free.size()); k++) {
      require |= 1L << free.get(k);
    }
    return require;
  }

  private CtNode node(long[] avoidStages, boolean[][] avoidNodes, List<List<Constraint>> waits,
      AgentPlan[] plans, long seq) {
    long makespan = 0;
    long sum = 0;
    for (AgentPlan p : plans) {
      makespan = Math.max(makespan, p.endMicros());
      sum += p.endMicros();
    }
    return new CtNode(avoidStages, avoidNodes, waits, plans, makespan, excess(plans), sum, seq);
  }

  /** Total visits above the caps (stage and node), the tie-breaker that steers toward TC1. */
  private long excess(AgentPlan[] plans) {
    int[] perStage = new int[stages.size()];
    int[] perNode = new int[costs.size()];
    for (AgentPlan p : plans) {
      for (int k = 1; k < p.path().length; k++) {
        perStage[stageOf[p.path()[k]]]++;
        perNode[p.path()[k]]++;
      }
    }
    long e = 0;
    for (int s = 1; s < perStage.length; s++) {
      e += Math.max(0, perStage[s] - limits.stageCap());
    }
    for (int x = 0; x < perNode.length; x++) {
      e += Math.max(0, perNode[x] - limits.memory());
    }
    return e;
  }

  private Conflict tc1Conflict(CtNode ct) {
    if (ct.excess == 0) {
      return null;
    }
    for (int s = 1; s < stages.size(); s++) {
      List<Integer> on = new ArrayList<>();
      for (int i = 0; i < ct.plans.length; i++) {
        for (int k = 1; k < ct.plans[i].path().length; k++) {
          if (stageOf[ct.plans[i].path()[k]] == s) {
            on.add(i);
          }
        }
      }
      if (on.size() > limits.stageCap()) {
        List<Constraint> children = new ArrayList<>();
        for (int i : fastestFirst(ct, on)) {
          children.add(Constraint.avoidStage(i, s));
        }
        return new Conflict(Conflict.Type.STAGE_CAP, children);
      }
    }
    for (int x = 0; x < costs.size(); x++) {
      if (stageOf[x] == 0) {
        continue;
      }
      List<Integer> on = new ArrayList<>();
      for (int i = 0; i < ct.plans.length; i++) {
        for (int k = 1; k < ct.plans[i].path().length; k++) {
          if (ct.plans[i].path()[k] == x) {
            on.add(i);
          }
        }
      }
      if (on.size() > limits.memory()) {
        List<Constraint> children = new ArrayList<>();
        for (int i : fastestFirst(ct, on)) {
          children.add(Constraint.avoidNode(i, x));
        }
        return new Conflict(Conflict.Type.NODE_CAP, children);
      }
    }
    throw new IllegalStateException("excess " + ct.excess + " but no TC1 conflict found");
  }

  /** Up to {@code branching} of the given agents, fastest (most slack) first, ties on index. */
  private List<Integer> fastestFirst(CtNode ct, List<Integer> on) {
    return on.stream().sorted((x, y) -> ct.plans[x].endMicros() != ct.plans[y].endMicros()
            ? Long.compare(ct.plans[x].endMicros(), ct.plans[y].endMicros())
            : Integer.compare(x, y))
        .limit(options.branching()).toList();
  }

  /** The first TC2 collision: two visits overlapping on a node, not both backward/loss. */
  private Conflict collision(CtNode ct) {
    AgentPlan[] p = ct.plans;
    Conflict first = null;
    long firstTime = Long.MAX_VALUE;
    for (int i = 0; i < p.length; i++) {
      for (int j = i + 1; j < p.length; j++) {
        for (int u = 0; u < p[i].visitNode().length; u++) {
          for (int v = 0; v < p[j].visitNode().length; v++) {
            if (p[i].visitNode()[u] != p[j].visitNode()[v]) {
              continue;
            }
            if (!p[i].visitForward()[u] && !p[j].visitForward()[v]) {
              continue;
            }
            long as = p[i].visitStart()[u];
            long ae = p[i].visitEnd()[u];
            long bs = p[j].visitStart()[v];
            long be = p[j].visitEnd()[v];
            if (as < be && bs < ae) {
              long at = Math.max(as, bs);
              if (at < firstTime) {
                firstTime = at;
                int x = p[i].visitNode()[u];
                List<Constraint> children = new ArrayList<>();
                // The later starter waits for the earlier one (ties: higher index waits).
                boolean iFirst = as < bs || (as == bs && i < j);
                if (iFirst) {
                  children.add(Constraint.waitOn(j, x, as, ae));
                  if (p[i].visitForward()[u] && p[j].visitForward()[v]) {
                    children.add(Constraint.waitOn(i, x, bs, be));
                  }
                } else {
                  children.add(Constraint.waitOn(i, x, bs, be));
                  if (p[i].visitForward()[u] && p[j].visitForward()[v]) {
                    children.add(Constraint.waitOn(j, x, as, ae));
                  }
                }
                first = new Conflict(Conflict.Type.COLLISION, children);
              }
            }
          }
        }
      }
    }
    return first;
  }

  private static int[][] paths(CtNode ct) {
    int[][] out = new int[ct.plans.length][];
    for (int i = 0; i < ct.plans.length; i++) {
      out[i] = ct.plans[i].path();
    }
    return out;
  }
}
