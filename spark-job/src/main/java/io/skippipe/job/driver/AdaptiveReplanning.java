package io.skippipe.job.driver;

import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.job.task.chunk.MessageTiming;
import io.skippipe.job.task.chunk.NodeIterationStats;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.Calibration;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.replan.Replanner;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Adaptive re-planning on what a chunk measured (issue 8, item 4): when the measured iteration time
 * exceeds the plan's prediction by {@code elastic.replanFactor}, the profile's links are fitted to
 * the measured hops ({@link Calibration#withMeasuredLinks}: send to blocked arrival of every
 * pipeline message, {@link MessageTiming}) and its node speeds to the measured compute spans
 * ({@link Calibration#withMeasuredCompute}), the plan is re-simulated on the fitted profile, and
 * the {@link Replanner} plans again on it (survivors stay unless moving pays within a chunk). The
 * new plan is taken when the simulator predicts it faster on the fitted profile. The node whose
 * compute ran slowest against its model is named as a straggler when it is {@code replanFactor}
 * times slower than the median node.
 *
 * <p>Times in emulated runs are divided by {@code network.timeScale} first, so they are in the
 * profile's units.
 */
final class AdaptiveReplanning {
  private AdaptiveReplanning() {}

  /**
   * What the check found: a new plan (null = keep the current one) and lines for the log.
   *
   * @param measuredSeconds median measured iteration seconds (profile units)
   * @param predictedSeconds the current plan's prediction (profile units)
   * @param straggler the straggler's description, or null
   */
  record Result(Plan plan, List<String> log, double measuredSeconds, double predictedSeconds,
      String straggler) {}

  /** Checks the chunk's results against the plan that produced them ({@code planHash}). */
  static Result check(Plan plan, String planHash, List<ChunkResult> results, JobConfig cfg) {
    double scale = cfg.network().emulated() ? cfg.network().timeScale() : 1.0;
    List<String> log = new ArrayList<>();
    Map<Integer, Long> slowest = new TreeMap<>();
    for (ChunkResult r : results) {
      for (NodeIterationStats s : r.iterations()) {
        if (planHash.equals(r.planOfIteration().get(s.iteration()))) {
          slowest.merge(s.iteration(), s.iterationMicros(), Math::max);
        }
      }
    }
    double predicted = plan.iterationSeconds();
    if (slowest.isEmpty() || !(predicted > 0)) {
      return new Result(null, log, Double.NaN, predicted, null);
    }
    double measured = median(slowest.values().stream().mapToDouble(m -> m / 1e6 / scale)
        .toArray());
    double factor = cfg.elastic().replanFactor();
    if (factor <= 0 || measured <= factor * predicted) {
      return new Result(null, log, measured, predicted, null);
    }
    log.add(String.format(Locale.ROOT, "measured iteration %.3f s vs predicted %.3f s%s: %.2fx,"
            + " over %s=%s; fitting the profile to what the chunk measured", measured * scale,
        predicted * scale, scale == 1.0 ? "" : " (x time scale " + scale + ")",
        measured / predicted, ConfigKeys.ELASTIC_REPLAN_FACTOR.name(), factor));
    Calibration.Result links = Calibration.withMeasuredLinks(plan.cluster(),
        hops(results, planHash, scale));
    List<Calibration.Compute> tasks = compute(plan, results, scale);
    Calibration.Result speeds = Calibration.withMeasuredCompute(links.profile(), tasks);
    log.addAll(links.changes());
    log.addAll(speeds.changes());
    String straggler = straggler(plan, tasks, results, factor);
    if (straggler != null) {
      log.add(straggler);
    }
    ClusterProfile fitted = speeds.profile();
    try {
      Plan onFitted = new Plan(plan.format(), plan.method(), plan.seed(), fitted, plan.model(),
          plan.constraints(), plan.stages(), plan.microbatches(), null);
      Plan old = JobPlanning.validate(onFitted, ConfigKeys.ELASTIC_REPLAN_FACTOR.name(),
          "the current plan on the fitted profile").plan();
      Replanner.Replan r = Replanner.replan(old, fitted.liveNodes(), List.of(),
          new Replanner.Settings(Math.max(1, cfg.train().chunkIterations()),
              Replanner.Settings.defaults().evaluations(), cfg.seed()));
      Plan next = JobPlanning.validate(r.plan(), ConfigKeys.ELASTIC_REPLAN_FACTOR.name(),
          "the re-plan on the fitted profile").plan();
      double gain = old.iterationSeconds() - next.iterationSeconds();
      String line = String.format(Locale.ROOT, "re-plan on the fitted profile: the current plan"
              + " predicts %.3f s there, the new one %.3f s (gain %.3f s per iteration, %.1f%%),"
              + " weight movement %.3f s", old.iterationSeconds(), next.iterationSeconds(), gain,
          100 * gain / old.iterationSeconds(), r.movementSeconds());
      if (gain <= 0.01 * old.iterationSeconds()) {
        log.add(line + "; keeping the current plan");
        return new Result(null, log, measured, predicted, straggler);
      }
      log.add(line);
      return new Result(next, log, measured, predicted, straggler);
    } catch (PlanningException | io.skippipe.job.config.ConfigException e) {
      log.add("re-planning on the fitted profile failed, keeping the current plan: "
          + e.getMessage());
      return new Result(null, log, measured, predicted, straggler);
    }
  }

  /** Hops of messages whose receiver was waiting for them: arrival − send. */
  static List<Calibration.Hop> hops(List<ChunkResult> results, String planHash, double scale) {
    Map<String, MessageTiming> sent = new HashMap<>();
    List<MessageTiming> arrived = new ArrayList<>();
    for (ChunkResult r : results) {
      for (MessageTiming t : r.timings()) {
        if (!planHash.equals(r.planOfIteration().get(t.iteration()))) {
          continue;
        }
        if (t.sentMicros() >= 0) {
          sent.put(t.key(), t);
        } else {
          arrived.add(t);
        }
      }
    }
    List<Calibration.Hop> out = new ArrayList<>();
    for (MessageTiming a : arrived) {
      MessageTiming s = sent.get(a.key());
      if (s != null && a.arrivedMicros() > s.sentMicros()) {
        out.add(new Calibration.Hop(a.from(), a.to(), a.bytes(),
            (a.arrivedMicros() - s.sentMicros()) / 1e6 / scale));
      }
    }
    return out;
  }

  /** Measured compute spans against the plan's cost model. */
  static List<Calibration.Compute> compute(Plan plan, List<ChunkResult> results, double scale) {
    CostModel costs = CostModel.of(plan.cluster(), plan.model());
    List<Calibration.Compute> out = new ArrayList<>();
    for (ChunkResult r : results) {
      for (String line : r.spanLines()) {
        Span s = SpanJson.fromLine(line);
        if (!s.isCompute() || !plan.cluster().isLive(s.node())) {
          continue;
        }
        long modelled = switch (s.kind()) {
          case FWD -> costs.forwardMicros(s.node());
          case BWD -> costs.backwardMicros(s.node());
          default -> costs.lossMicros(s.node());
        };
        out.add(new Calibration.Compute(s.node(), modelled / 1e6,
            s.durationMicros() / 1e6 / scale));
      }
    }
    return out;
  }

  /** The node whose compute ran slowest against its model, when far beyond the median node. */
  static String straggler(Plan plan, List<Calibration.Compute> tasks, List<ChunkResult> results,
      double factor) {
    Map<Integer, List<Double>> byNode = new TreeMap<>();
    for (Calibration.Compute c : tasks) {
      byNode.computeIfAbsent(c.node(), k -> new ArrayList<>())
          .add(c.measuredSeconds() / c.modelledSeconds());
    }
    if (byNode.size() < 2) {
      return null;
    }
    Map<Integer, Double> ratio = new TreeMap<>();
    byNode.forEach((n, l) -> ratio.put(n, median(l.stream().mapToDouble(d -> d).toArray())));
    double mid = median(ratio.values().stream().mapToDouble(d -> d).toArray());
    int worst = ratio.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    if (!(ratio.get(worst) > Math.max(1.0, factor) * mid)) {
      return null;
    }
    String where = "";
    for (ChunkResult r : results) {
      if (r.node() == worst) {
        where = ", executor " + r.executorId() + " on " + r.host();
      }
    }
    return String.format(Locale.ROOT, "straggler: node %d (stage %d%s, location %s) computes"
            + " %.2fx its modelled time, the median node %.2fx", worst, plan.stageOf(worst), where,
        plan.cluster().nodes().get(worst).location(), ratio.get(worst), mid);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length == 0 ? Double.NaN : s[s.length / 2];
  }
}
