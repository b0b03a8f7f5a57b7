package io.skippipe.scheduler.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * What {@code bin/skippipe tune} (and {@code plan.skipRatio=auto}) report: the frontier as a table
 * and as one JSON object, {@code {"frontier":[{"pathLength", "maxSwaps", "memory",
 * "activationCheckpointing", "skipRatio",
 * "layerFraction", "predictedIterationSeconds", "predictedPipelineSeconds", "planCpuSeconds",
 * "predictedIterationsToTarget", "predictedSecondsToTarget", "predictedLossAtBudget"}, …],
 * "choice":{same fields}, "rule", "targetLoss", "probes":[{"pathLength", "steps", "firstLoss",
 * "lastLoss", "curveA", "curveB", "seconds"}], "infeasible":[…], "planCpuSeconds"}} (NaN fields
 * are left out).
 *
 * @param probes the convergence probes run (empty for throughput only)
 */
public record TuneReport(String cluster, String model, Tuner.Exploration exploration,
    Tuner.Decision decision, List<Probe> probes) {

  /**
   * One convergence probe: its path length, optimizer steps, first and last loss, fitted curve
   * and wall seconds.
   */
  public record Probe(int pathLength, int steps, double firstLoss, double lastLoss,
      LossCurve curve, double seconds) {}

  /** The report as one JSON object (the last line of {@code tune --json}). */
  public ObjectNode toJson() {
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("cluster", cluster);
    o.put("model", model);
    ArrayNode f = o.putArray("frontier");
    for (Tuner.Prediction p : decision.predictions()) {
      point(f.addObject(), p);
    }
    Tuner.Prediction chosen = decision.predictions().stream()
        .filter(p -> p.point() == decision.choice()).findFirst().orElseThrow();
    point(o.putObject("choice"), chosen);
    o.put("rule", decision.rule());
    num(o, "targetLoss", decision.targetLoss());
    ArrayNode pr = o.putArray("probes");
    for (Probe p : probes) {
      ObjectNode j = pr.addObject();
      j.put("pathLength", p.pathLength());
      j.put("steps", p.steps());
      num(j, "firstLoss", p.firstLoss());
      num(j, "lastLoss", p.lastLoss());
      if (p.curve() != null) {
        num(j, "curveA", p.curve().a());
        num(j, "curveB", p.curve().b());
      }
      j.put("seconds", p.seconds());
    }
    ArrayNode inf = o.putArray("infeasible");
    exploration.infeasible().forEach(inf::add);
    o.put("planCpuSeconds", exploration.planCpuSeconds());
    return o;
  }

  private static void point(ObjectNode j, Tuner.Prediction pr) {
    Tuner.Point p = pr.point();
    j.put("pathLength", p.candidate().pathLength());
    j.put("maxSwaps", p.candidate().maxSwaps());
    j.put("memory", p.candidate().memory());
    j.put("activationCheckpointing", p.candidate().activationCheckpointing());
    j.put("skipRatio", p.skipRatio());
    j.put("layerFraction", p.layerFraction());
    j.put("predictedIterationSeconds", p.iterationSeconds());
    j.put("predictedPipelineSeconds", p.plan().pipelineSeconds());
    j.put("planCpuSeconds", p.planCpuSeconds());
    num(j, "predictedIterationsToTarget", pr.iterationsToTarget());
    num(j, "predictedSecondsToTarget", pr.secondsToTarget());
    num(j, "predictedLossAtBudget", pr.lossAtBudget());
  }

  private static void num(ObjectNode j, String k, double v) {
    if (Double.isFinite(v)) {
      j.put(k, v);
    }
  }

  /** The human table: one row per frontier point, the choice marked. */
  public void printTable(PrintStream out) {
    out.printf(Locale.ROOT, "tune %s / %s: %d configurations planned (%d infeasible), %.2f s"
            + " CPU; frontier of predicted iteration time vs layers visited per sample%n", cluster,
        model, exploration.points().size(), exploration.infeasible().size(),
        exploration.planCpuSeconds());
    for (Probe p : probes) {
      out.printf(Locale.ROOT, "  probe path length %d: %d steps, loss %.4f -> %.4f, fit L = %.4g"
              + " * E^-%.4f, %.1f s%n", p.pathLength(), p.steps(), p.firstLoss(), p.lastLoss(),
          p.curve() == null ? Double.NaN : p.curve().a(),
          p.curve() == null ? Double.NaN : p.curve().b(), p.seconds());
    }
    out.printf(Locale.ROOT, "%-6s %6s %6s %4s %7s %5s %14s %13s %12s %14s %10s%n", "", "path",
        "skip", "swap", "memory", "ckpt", "iteration (s)", "pipeline (s)", "iters->tgt",
        "time->tgt (s)", "loss@budg");
    for (Tuner.Prediction pr : decision.predictions()) {
      Tuner.Point p = pr.point();
      out.printf(Locale.ROOT, "%-6s %6d %5.1f%% %4d %7d %5s %14.3f %13.3f %12s %14s %10s%n",
          p == decision.choice() ? "choice" : "", p.candidate().pathLength(),
          100 * p.skipRatio(), p.candidate().maxSwaps(), p.candidate().memory(),
          p.candidate().activationCheckpointing() ? "on" : "off",
          p.iterationSeconds(), p.plan().pipelineSeconds(), fmt(pr.iterationsToTarget(), 1),
          fmt(pr.secondsToTarget(), 1), fmt(pr.lossAtBudget(), 4));
    }
    out.println("rule: " + decision.rule());
  }

  private static String fmt(double v, int digits) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + digits + "f", v) : "-";
  }
}
