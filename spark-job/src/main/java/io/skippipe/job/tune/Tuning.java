package io.skippipe.job.tune;

import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.tune.LossCurve;
import io.skippipe.scheduler.tune.TuneReport;
import io.skippipe.scheduler.tune.Tuner;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The tuner end to end (issue 14), shared by {@code bin/skippipe tune} and {@code
 * plan.skipRatio=auto}: the throughput axis ({@link Tuner#explore}, pure planner), then — with
 * probes — one {@link ConvergenceProbe} per path length on the frontier, and the decision.
 *
 * <p>Decision rules, in order: with a budget, the lowest predicted loss within it; with a target
 * loss, the least predicted time to it; with probes and neither, the least predicted time to the
 * probes' common loss (the highest of the losses each probe's curve gives at its last step, so
 * every prediction interpolates at least one probe); without probes, the fastest predicted
 * iteration with skip ratio at most {@code maxSkipRatio} ({@link Tuner#throughputOnly}).
 */
public final class Tuning {
  private Tuning() {}

  /**
   * What to tune.
   *
   * @param base method, seed, allocation and routing settings of every plan
   * @param maxSkipRatio bound of the throughput-only rule
   * @param targetLoss the target, or null
   * @param budgetSeconds the time budget, or null (at most one of target and budget)
   * @param probe probe settings, or null for throughput only
   * @param probeData data for a probe model's sequence length, or null for throughput only
   * @param activationCheckpointing the activation checkpointing settings searched ({@link
   *     Tuner#BOTH}, or one of them)
   */
  public record Request(ClusterProfile cluster, ModelSpec model, PlannerConfig base,
      double maxSkipRatio, Double targetLoss, Double budgetSeconds,
      ConvergenceProbe.Settings probe, IntFunction<PackedDataset> probeData,
      List<Boolean> activationCheckpointing) {
    public Request {
      activationCheckpointing = List.copyOf(activationCheckpointing);
      if (targetLoss != null && budgetSeconds != null) {
        throw new IllegalArgumentException("give a target loss or a time budget, not both");
      }
      if ((targetLoss != null || budgetSeconds != null) && probe == null) {
        throw new IllegalArgumentException("a target loss or a time budget needs convergence"
            + " probes (probe steps > 0)");
      }
    }
  }

  /** The report and the chosen plan. */
  public record Outcome(TuneReport report, Plan choice) {}

  /** Runs the tuner; progress lines (one per probe) go to {@code progress}. */
  public static Outcome run(Request r, PrintStream progress) {
    Tuner.Exploration ex = Tuner.explore(r.cluster(), r.model(), r.base(),
        Tuner.admissible(r.cluster(), r.model(), r.activationCheckpointing()));
    List<Tuner.Point> frontier = ex.frontier();
    if (frontier.isEmpty()) {
      throw new IllegalArgumentException("no configuration could be planned: "
          + ex.infeasible());
    }
    List<TuneReport.Probe> probes = new ArrayList<>();
    Tuner.Decision d;
    if (r.probe() == null) {
      d = Tuner.throughputOnly(frontier, r.maxSkipRatio());
    } else {
      Map<Integer, LossCurve> curves = new LinkedHashMap<>();
      LlamaConfig model = ConvergenceProbe.probeModel(r.model(), Integer.MAX_VALUE);
      PackedDataset data = r.probeData().apply(model.seqLen());
      model = ConvergenceProbe.probeModel(r.model(), maxToken(data) + 1);
      double common = 0;
      for (Tuner.Point p : frontier) {
        int l = p.candidate().pathLength();
        if (curves.containsKey(l)) {
          continue;
        }
        ConvergenceProbe.Result res = ConvergenceProbe.run(p.plan(), model, data, r.probe());
        probes.add(res.probe());
        curves.put(l, res.probe().curve());
        double lastWork = res.samples().get(res.samples().size() - 1).sampleLayers();
        common = Math.max(common, res.probe().curve().loss(lastWork));
        progress.printf(java.util.Locale.ROOT, "probe path length %d: %d steps, loss %.4f ->"
                + " %.4f (%.1f s)%n", l, r.probe().steps(), res.probe().firstLoss(),
            res.probe().lastLoss(), res.probe().seconds());
      }
      if (r.budgetSeconds() != null) {
        d = Tuner.withinBudget(frontier, curves, r.budgetSeconds());
      } else {
        d = Tuner.toTarget(frontier, curves, r.targetLoss() != null ? r.targetLoss() : common);
      }
    }
    return new Outcome(new TuneReport(r.cluster().name(), r.model().name(), ex, d, probes),
        d.choice().plan());
  }

  private static int maxToken(PackedDataset data) {
    int max = 0;
    for (int v : data.sequences()) {
      max = Math.max(max, v);
    }
    return max;
  }
}
