package io.skippipe.scheduler.replan;

import io.skippipe.scheduler.allocate.SkipAwareAllocator;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.random.RandomGeneratorFactory;

/**
 * Re-planning for elastic training (issue 8): given the plan a run used and the nodes alive now
 * (and possibly new ones), a valid plan on them that keeps surviving nodes on their stages
 * whenever possible. The driver calls it at a chunk attempt; it is a pure function of its inputs.
 *
 * <p>The cluster keeps every node id: nodes not alive are marked {@link Node#lost()} (no stage
 * lists them, no path visits them), new nodes get the next ids. Allocation:
 * <ol>
 *   <li>start: every survivor on its previous stage; each new node, one by one, to stage 0 if it
 *       has no live node, else to an empty non-data stage, else to the non-data stage with the
 *       fewest replicas (lowest index on ties); if stage 0 is still empty, the last-listed
 *       replica of the fullest non-data stage moves there (a run needs a data node);
 *   <li>search ({@link SkipAwareAllocator}, sizes free, no stage emptied, the data nodes fixed:
 *       each holds its own data shard, and the iteration's microbatch count must not change
 *       with the allocation): the objective is the
 *       predicted iteration (the planner's objective, routed cheaply and simulated) plus the
 *       weight-movement seconds divided by {@code amortizeIterations} — moving a node to another
 *       stage costs that stage's weights and AdamW state (3 × 4 bytes per parameter) over the
 *       fastest link from a live replica of the stage; a stage with no live replica is loaded
 *       from the last checkpoint, modelled as a transfer over the profile's default link;
 *   <li>the start and the search's best are routed with the plan's method and the cheaper by the
 *       same objective wins (ties: the start).
 * </ol>
 * A non-data stage left without a live node is skipped by every path (SkipPipe's fallback): the
 * plan lists it in {@link Plan#skippedStages()} and paths of length ℓ become shorter when fewer
 * than ℓ stages remain. Limits (ℓ, swaps, jump, memory, stage cap) are the previous plan's: a
 * stage that lost replicas is bounded by its nodes' memory (TC1-b), the others keep their load.
 */
public final class Replanner {
  private Replanner() {}

  /** Bytes moved per parameter when a node takes over a stage: weights + AdamW m and v (fp32). */
  public static final int MOVE_BYTES_PER_PARAMETER = 12;

  /**
   * Re-planning settings.
   *
   * @param amortizeIterations iterations over which a weight movement is paid back (e.g. the
   *     chunk length); larger values move nodes more readily
   * @param evaluations candidate allocations the search scores (0: survivors stay, no search)
   * @param seed seeds the search
   */
  public record Settings(int amortizeIterations, int evaluations, long seed) {
    public Settings {
      if (amortizeIterations < 1 || evaluations < 0) {
        throw new IllegalArgumentException("amortizeIterations must be >= 1 and evaluations >= 0,"
            + " got " + amortizeIterations + " / " + evaluations);
      }
    }

    /** 50 iterations, 60 evaluations, seed 5. */
    public static Settings defaults() {
      return new Settings(50, 60, PlannerConfig.DEFAULT_SEED);
    }
  }

  /** A node that changes stage: {@code fromStage} is -1 for a new node. */
  public record Move(int node, int fromStage, int toStage, double seconds) {}

  /**
   * The re-plan.
   *
   * @param plan the new plan (its cluster marks lost nodes and lists new ones)
   * @param moves nodes that serve a different stage than before (new nodes included)
   * @param movementSeconds total predicted seconds of weight movement (moves run in parallel in
   *     practice; this is the sum, the conservative figure)
   * @param lost nodes of the previous plan that are gone
   */
  public record Replan(Plan plan, List<Move> moves, double movementSeconds, List<Integer> lost) {
    /** Non-data stages without a live node: paths skip them. */
    public List<Integer> skippedStages() {
      return plan.skippedStages();
    }
  }

  /**
   * Re-plans {@code previous} for the nodes in {@code live} plus {@code added}.
   *
   * @param live ids of the previous cluster's nodes that are alive
   * @param added new nodes (their ids are ignored; they get ids after the previous cluster's)
   * @throws PlanningException when no live node is left, or the survivors cannot carry any plan
   */
  public static Replan replan(Plan previous, Collection<Integer> live, List<Node> added,
      Settings settings) {
    ClusterProfile old = previous.cluster();
    Set<Integer> alive = new TreeSet<>(live);
    List<Node> nodes = new ArrayList<>();
    List<Integer> lost = new ArrayList<>();
    for (Node x : old.nodes()) {
      boolean up = alive.contains(x.id());
      nodes.add(x.withLost(!up));
      if (!up && !x.lost()) {
        lost.add(x.id());
      }
    }
    for (Node x : added) {
      nodes.add(new Node(nodes.size(), x.location(), x.speed(), x.memoryMicrobatches()));
    }
    if (nodes.stream().allMatch(Node::lost)) {
      throw PlanningException.of("live nodes " + live, "no node is left to train on",
          "wait for executors to come back (spark.skippipe.elastic.minNodes)");
    }
    List<List<Integer>> start = startAllocation(previous, nodes);
    ClusterProfile profile = old.withNodes(nodes, sizes(start));
    CostModel costs = CostModel.of(profile, previous.model());
    PlannerConfig cfg = config(previous, settings);
    double[] stageBytes = new double[start.size()];
    for (int s = 0; s < stageBytes.length; s++) {
      stageBytes[s] = (double) MOVE_BYTES_PER_PARAMETER * costs.stageParameters(s);
    }
    Movement movement = new Movement(previous, costs, profile.defaultLink(), stageBytes);
    List<List<Integer>> best = start;
    if (settings.evaluations() > 0) {
      SkipAwareAllocator.Scorer scorer = st -> {
        try {
          ClusterProfile p = old.withNodes(nodes, sizes(st));
          return Planner.skipAwareScorer(p, previous.model(), cfg).score(st)
              + movement.seconds(st) / settings.amortizeIterations();
        } catch (PlanningException e) {
          return Double.POSITIVE_INFINITY;
        }
      };
      boolean[] mayEmpty = new boolean[start.size()];
      boolean[] frozen = new boolean[start.size()];
      frozen[0] = true;
      best = new SkipAwareAllocator(settings.evaluations()).improve(start, scorer, true, mayEmpty,
          frozen, RandomGeneratorFactory.of("L64X128MixRandom").create(settings.seed()))
          .stages();
    }
    Plan chosen = null;
    double chosenScore = Double.POSITIVE_INFINITY;
    List<List<Integer>> chosenStages = null;
    for (List<List<Integer>> st : best.equals(start) ? List.of(start) : List.of(start, best)) {
      ClusterProfile p = old.withNodes(nodes, sizes(st));
      Plan plan = Planner.plan(p, previous.model(), cfg.withStages(st));
      double score = objective(plan, cfg) + movement.seconds(st) / settings.amortizeIterations();
      if (score < chosenScore) {
        chosen = plan;
        chosenScore = score;
        chosenStages = st;
      }
    }
    return new Replan(chosen, movement.moves(chosenStages), movement.seconds(chosenStages),
        lost);
  }

  private static double objective(Plan p, PlannerConfig cfg) {
    return cfg.allocation().objective().equals("pipeline") ? p.pipelineSeconds()
        : p.iterationSeconds();
  }

  /**
   * The planner settings of a re-plan: the previous plan's method, seed and limits. A previous
   * plan that had to shorten its paths (skipped stages, ℓ equal to the stages it had left) asks
   * for ℓ plus the skipped stages again, so refilled stages are visited again.
   */
  static PlannerConfig config(Plan previous, Settings s) {
    Constraints c = previous.constraints();
    int l = c.pathLength();
    int skipped = previous.skippedStages().size();
    if (skipped > 0 && l == previous.stages().size() - skipped) {
      l = Math.min(previous.stages().size(), l + skipped);
    }
    PlannerConfig d = PlannerConfig.defaults(previous.method()).withSeed(s.seed());
    boolean full = io.skippipe.scheduler.plan.Methods.isFullPipeline(previous.method());
    return d.withLimits(d.limits().withPathLength(full ? null : l)
        .withSwaps(c.maxSwaps(), c.maxSwapDistance()).withMaxJump(c.maxJump())
        .withMemory(c.memory()).withStageCap(c.stageCap()));
  }

  /**
   * Survivors stay; new nodes fill an empty stage 0, then empty stages, then the smallest non-data
   * stage; stage 0 never empty.
   */
  static List<List<Integer>> startAllocation(Plan previous, List<Node> nodes) {
    List<List<Integer>> st = new ArrayList<>();
    for (List<Integer> s : previous.stages()) {
      List<Integer> keep = new ArrayList<>();
      for (int x : s) {
        if (!nodes.get(x).lost()) {
          keep.add(x);
        }
      }
      st.add(keep);
    }
    for (int x = previous.cluster().size(); x < nodes.size(); x++) {
      int target = st.get(0).isEmpty() ? 0 : -1;
      for (int s = 1; s < st.size() && target < 0; s++) {
        if (st.get(s).isEmpty()) {
          target = s;
        }
      }
      if (target < 0) {
        target = 1;
        for (int s = 2; s < st.size(); s++) {
          if (st.get(s).size() < st.get(target).size()) {
            target = s;
          }
        }
      }
      st.get(target).add(x);
    }
    if (st.get(0).isEmpty()) {
      int from = 1;
      for (int s = 2; s < st.size(); s++) {
        if (st.get(s).size() > st.get(from).size()) {
          from = s;
        }
      }
      if (st.get(from).size() < 2) {
        throw PlanningException.of("live nodes " + liveIds(nodes), "stage 0 (the data nodes)"
            + " has no live node and no other stage has a replica to spare",
            "add executors (they join stage 0 first) or restart from the last checkpoint");
      }
      st.get(0).add(st.get(from).remove(st.get(from).size() - 1));
    }
    return st;
  }

  private static List<Integer> liveIds(List<Node> nodes) {
    return nodes.stream().filter(x -> !x.lost()).map(Node::id).toList();
  }

  static List<Integer> sizes(List<List<Integer>> stages) {
    return stages.stream().map(List::size).toList();
  }

  /** Weight-movement cost of an allocation relative to the previous plan. */
  private record Movement(Plan previous, CostModel costs, Link checkpointLink,
      double[] stageBytes) {
    int previousStage(int node) {
      return node < previous.nodeCount() ? previous.stageOf(node) : -1;
    }

    List<Move> moves(List<List<Integer>> stages) {
      List<Move> out = new ArrayList<>();
      for (int s = 0; s < stages.size(); s++) {
        for (int x : stages.get(s)) {
          int from = previousStage(x);
          if (from != s) {
            out.add(new Move(x, from, s, seconds(x, s, stages)));
          }
        }
      }
      return out;
    }

    double seconds(List<List<Integer>> stages) {
      return moves(stages).stream().mapToDouble(Move::seconds).sum();
    }

    /** Stage {@code s}'s bytes to node x from the fastest source holding them. */
    double seconds(int x, int s, List<List<Integer>> stages) {
      double best = Double.POSITIVE_INFINITY;
      for (int y : stages.get(s)) {
        if (y != x && previousStage(y) == s) {
          best = Math.min(best, costs.latencySeconds(y, x)
              + stageBytes[s] / costs.bytesPerSecond(y, x));
        }
      }
      if (Double.isInfinite(best)) {
        best = checkpointLink.transferSeconds((long) stageBytes[s]);
      }
      return best;
    }
  }
}
