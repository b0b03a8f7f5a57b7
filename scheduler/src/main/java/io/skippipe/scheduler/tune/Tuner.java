package io.skippipe.scheduler.tune;

import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The meta-scheduler over skip ratio and path assignment (issue 14): the throughput axis (plan and
 * simulate every admissible configuration, keep the Pareto frontier of predicted iteration time
 * against the fraction of layers each sample visits) and the decision rules that pick one
 * configuration from the frontier, with or without convergence probes (the probes themselves run
 * the model, outside this module: {@code io.skippipe.job.tune}).
 *
 * <p>Admissible configurations: path length ℓ from 2 to K (ℓ = 1 would train stage 0 only), at
 * most 0, 1 or 2 swaps of distance 1, activation checkpointing off and on (the runtime's
 * {@code spark.skippipe.train.activationCheckpointing}: every backward also recomputes the forward,
 * and a node holds more microbatches, {@code ModelSpec.microbatchesHeld}), and a TC1-b memory cap
 * (the stage cap follows it, smallest non-data stage × memory): without checkpointing every cap
 * from 1 to the smallest live node's memory m; with it, only caps above m (a cap of m or less
 * routes under the same caps as without checkpointing, only with longer backwards; the only
 * difference, the simulator's per-node hold limit, is not worth a recompute), doubling from 2m
 * and ending at the largest cap that can matter, min(the node's memory under checkpointing,
 * microbatches per iteration) — a ladder, so the space grows by a few caps, not by hundreds.
 * When only checkpointing on is searched, its caps 1..m are searched too.
 *
 * <p>Allocation: one skip-aware allocation per path length (with the default swaps and memory,
 * and the given model's checkpointing setting), shared by that path length's swap, memory and
 * checkpointing variants, which are only routed again; so the cost is K−1 allocations plus one
 * routing per configuration.
 */
public final class Tuner {
  private Tuner() {}

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /**
   * One configuration of the space.
   *
   * @param memory TC1-b cap: distinct paths through one non-data node
   * @param activationCheckpointing plan (and run) with activation checkpointing
   */
  public record Candidate(int pathLength, int maxSwaps, int memory,
      boolean activationCheckpointing) {}

  /**
   * A planned configuration.
   *
   * @param layerFraction ℓ/K: the fraction of the model's layers each sample visits
   * @param planCpuSeconds CPU seconds to plan it (its path length's allocation included for the
   *     first variant planned)
   */
  public record Point(Candidate candidate, Plan plan, double layerFraction,
      double planCpuSeconds) {
    public double iterationSeconds() {
      return plan.iterationSeconds();
    }

    public double skipRatio() {
      return 1 - layerFraction;
    }

    /** Sample-layers one iteration processes: samples × ℓ × layersPerStage. */
    public double sampleLayersPerIteration() {
      return (double) plan.microbatches().size() * plan.model().samplesPerMicrobatch()
          * candidate.pathLength() * plan.model().layersPerStage();
    }
  }

  /** Every planned point, the configurations that could not be planned, total CPU seconds. */
  public record Exploration(List<Point> points, List<String> infeasible, double planCpuSeconds) {
    public List<Point> frontier() {
      return Tuner.frontier(points);
    }
  }

  /** Activation checkpointing off and on: the whole space (class comment). */
  public static final List<Boolean> BOTH = List.of(false, true);

  /** The admissible configurations of a cluster and model, checkpointing off and on. */
  public static List<Candidate> admissible(ClusterProfile profile, ModelSpec model) {
    return admissible(profile, model, BOTH);
  }

  /**
   * The admissible configurations with the given activation checkpointing settings (class
   * comment), ℓ descending, then swaps, checkpointing in the given order, memory cap descending.
   *
   * @param checkpointing the settings to search: [false], [true] or [false, true]
   * @throws IllegalArgumentException when {@code checkpointing} is empty
   */
  public static List<Candidate> admissible(ClusterProfile profile, ModelSpec model,
      List<Boolean> checkpointing) {
    if (checkpointing.isEmpty()) {
      throw new IllegalArgumentException("no activation checkpointing setting to search");
    }
    int k = model.stages();
    int mem = profile.nodes().stream().filter(x -> !x.lost())
        .mapToInt(Node::memoryMicrobatches).min().orElse(1);
    int top = Math.min(model.withActivationCheckpointing(true).microbatchesHeld(mem),
        profile.stageSizes().get(0) * model.microbatchesPerDataNode());
    List<Integer> ladder = new ArrayList<>();
    for (long m = 2L * mem; m < top; m *= 2) {
      ladder.add(0, (int) m);
    }
    if (top > mem) {
      ladder.add(0, top);
    }
    List<Candidate> out = new ArrayList<>();
    for (int l = k; l >= Math.min(2, k); l--) {
      for (int swaps = 0; swaps <= 2; swaps++) {
        for (boolean ckpt : checkpointing) {
          if (ckpt) {
            for (int m : ladder) {
              out.add(new Candidate(l, swaps, m, true));
            }
          }
          if (!ckpt || !checkpointing.contains(false)) {
            for (int m = mem; m >= 1; m--) {
              out.add(new Candidate(l, swaps, m, ckpt));
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Plans every candidate with {@code base} (method, seed, allocation and routing settings) and
   * {@code model} with the candidate's activation checkpointing; the allocation of a path length
   * is made once, with {@code model} as given. Infeasible ones (e.g. a memory cap too small for the
   * path length) are listed with the planner's reason.
   */
  public static Exploration explore(ClusterProfile profile, ModelSpec model, PlannerConfig base,
      List<Candidate> candidates) {
    List<Point> points = new ArrayList<>();
    List<String> infeasible = new ArrayList<>();
    long start = THREADS.getCurrentThreadCpuTime();
    List<Integer> lengths = candidates.stream().map(Candidate::pathLength).distinct().toList();
    for (int l : lengths) {
      long t0 = THREADS.getCurrentThreadCpuTime();
      PlannerConfig forLength = base.withLimits(base.limits().withPathLength(l));
      List<List<Integer>> stages;
      try {
        stages = base.stages() != null ? base.stages()
            : Planner.plan(profile, model, forLength).stages();
      } catch (PlanningException e) {
        infeasible.add("path length " + l + ": " + e.getMessage());
        continue;
      }
      for (Candidate c : candidates) {
        if (c.pathLength() != l) {
          continue;
        }
        PlannerConfig cfg = forLength.withStages(stages).withLimits(forLength.limits()
            .withSwaps(c.maxSwaps(), Math.min(1, c.maxSwaps())).withMemory(c.memory()));
        try {
          Plan p = Planner.plan(profile,
              model.withActivationCheckpointing(c.activationCheckpointing()), cfg);
          long t1 = THREADS.getCurrentThreadCpuTime();
          points.add(new Point(c, p, (double) l / model.stages(), (t1 - t0) / 1e9));
          t0 = t1;
        } catch (PlanningException | IllegalStateException e) {
          infeasible.add(c + ": " + e.getMessage());
        }
      }
    }
    return new Exploration(points, infeasible,
        (THREADS.getCurrentThreadCpuTime() - start) / 1e9);
  }

  /**
   * The Pareto frontier of (iteration seconds: lower is better, layer fraction: higher is better),
   * sorted by layer fraction ascending; iteration seconds then strictly increase along it. Among
   * equal points the one with fewer swaps, then without activation checkpointing (no recompute,
   * no reliance on the memory estimate), then with the larger memory cap, is kept.
   */
  public static List<Point> frontier(List<Point> points) {
    List<Point> sorted = new ArrayList<>(points);
    sorted.sort(Comparator.comparingDouble(Point::layerFraction).reversed()
        .thenComparingDouble(Point::iterationSeconds)
        .thenComparingInt(p -> p.candidate().maxSwaps())
        .thenComparing(p -> p.candidate().activationCheckpointing())
        .thenComparingInt(p -> -p.candidate().memory()));
    List<Point> out = new ArrayList<>();
    double best = Double.POSITIVE_INFINITY;
    for (Point p : sorted) {
      if (p.iterationSeconds() < best) {
        best = p.iterationSeconds();
        out.add(p);
      }
    }
    java.util.Collections.reverse(out);
    return out;
  }

  /**
   * A frontier point with what the decision rule predicts for it.
   *
   * @param iterationsToTarget predicted iterations to the target loss (NaN: no curve)
   * @param secondsToTarget iterations × predicted iteration seconds (NaN: no curve)
   * @param lossAtBudget predicted loss after the budget (NaN: no budget or no curve)
   */
  public record Prediction(Point point, double iterationsToTarget, double secondsToTarget,
      double lossAtBudget) {}

  /**
   * The choice and how it was made.
   *
   * @param rule one sentence naming the rule
   * @param targetLoss the target (NaN when the rule has none)
   * @param predictions one per frontier point, frontier order
   */
  public record Decision(Point choice, String rule, double targetLoss,
      List<Prediction> predictions) {}

  /**
   * Throughput only (no convergence data): the fastest frontier point whose skip ratio is at most
   * {@code maxSkipRatio}; the skip ratios the SkipPipe paper trained with (25 % and 33 %, spec §8.2)
   * converged like the full pipeline, so the default 1/3 stays in that range. When no point
   * qualifies, the one visiting the most layers.
   */
  public static Decision throughputOnly(List<Point> frontier, double maxSkipRatio) {
    Point choice = null;
    for (Point p : frontier) {
      if (p.skipRatio() <= maxSkipRatio + 1e-9
          && (choice == null || p.iterationSeconds() < choice.iterationSeconds())) {
        choice = p;
      }
    }
    if (choice == null) {
      choice = frontier.get(frontier.size() - 1);
    }
    List<Prediction> preds = frontier.stream()
        .map(p -> new Prediction(p, Double.NaN, Double.NaN, Double.NaN)).toList();
    return new Decision(choice, String.format(java.util.Locale.ROOT, "throughput only: fastest"
        + " predicted iteration with skip ratio <= %.3f", maxSkipRatio), Double.NaN, preds);
  }

  /**
   * Minimum predicted time to {@code targetLoss}: for each frontier point with a decreasing curve
   * for its path length, iterations = sampleLayersTo(target) / sample-layers per iteration, time
   * = iterations × predicted iteration seconds.
   *
   * @throws IllegalArgumentException when no frontier point has a usable curve
   */
  public static Decision toTarget(List<Point> frontier, Map<Integer, LossCurve> curves,
      double targetLoss) {
    List<Prediction> preds = new ArrayList<>();
    Prediction best = null;
    for (Point p : frontier) {
      LossCurve c = curves.get(p.candidate().pathLength());
      double iters = c == null ? Double.NaN
          : c.sampleLayersTo(targetLoss) / p.sampleLayersPerIteration();
      Prediction pr = new Prediction(p, iters, iters * p.iterationSeconds(), Double.NaN);
      preds.add(pr);
      if (Double.isFinite(pr.secondsToTarget())
          && (best == null || pr.secondsToTarget() < best.secondsToTarget())) {
        best = pr;
      }
    }
    if (best == null) {
      throw new IllegalArgumentException("no probed path length predicts reaching loss "
          + targetLoss + " (no probe's loss decreased)");
    }
    return new Decision(best.point(), String.format(java.util.Locale.ROOT, "minimum predicted"
        + " time to loss %.4f", targetLoss), targetLoss, preds);
  }

  /** Lowest predicted loss after {@code budgetSeconds} of training. */
  public static Decision withinBudget(List<Point> frontier, Map<Integer, LossCurve> curves,
      double budgetSeconds) {
    List<Prediction> preds = new ArrayList<>();
    Prediction best = null;
    for (Point p : frontier) {
      LossCurve c = curves.get(p.candidate().pathLength());
      double iters = budgetSeconds / p.iterationSeconds();
      double loss = c == null ? Double.NaN : c.loss(iters * p.sampleLayersPerIteration());
      Prediction pr = new Prediction(p, iters, budgetSeconds, loss);
      preds.add(pr);
      if (c != null && c.decreasing() && (best == null || loss < best.lossAtBudget())) {
        best = pr;
      }
    }
    if (best == null) {
      throw new IllegalArgumentException("no probed path length has a decreasing loss curve");
    }
    return new Decision(best.point(), String.format(java.util.Locale.ROOT, "lowest predicted"
        + " loss within %.1f s", budgetSeconds), Double.NaN, preds);
  }
}
