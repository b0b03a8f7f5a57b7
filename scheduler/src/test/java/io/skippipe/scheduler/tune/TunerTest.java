package io.skippipe.scheduler.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tuner's frontier and decision rules. */
class TunerTest {
  /** Cheap allocation and routing budgets: the tests check structure, not plan quality. */
  static PlannerConfig quick() {
    PlannerConfig d = PlannerConfig.defaults("skippipe");
    return d.withAllocation(d.allocation().withGcma(10, 60).withEvaluations(8))
        .withRouting(new PlannerConfig.Routing(200, 2, 3));
  }

  static final ClusterProfile LAPTOP = Presets.cluster("laptop-geo-12");
  static final ModelSpec TINY = Presets.model("llama-tiny");
  static final Tuner.Exploration EX = Tuner.explore(LAPTOP, TINY, quick(),
      Tuner.admissible(LAPTOP, TINY));

  @Test
  void theFrontierIsMonotoneAndEveryEntryValidates() {
    // 5 path lengths (2..6) x 3 swap limits x 2 memory caps (laptop-geo-12 nodes hold 2)
    assertEquals(30, Tuner.admissible(LAPTOP, TINY, List.of(false)).size());
    // with checkpointing the caps above 2 up to min(microbatches held, 2 data nodes x M = 2)
    int top = Math.min(TINY.withActivationCheckpointing(true).microbatchesHeld(2), 2 * 2);
    assertEquals(4, top); // llama-tiny holds 51 stage inputs in the memory of 2 microbatches
    List<Tuner.Candidate> both = Tuner.admissible(LAPTOP, TINY);
    assertEquals(30 + 15, both.size());
    assertTrue(both.stream().filter(Tuner.Candidate::activationCheckpointing)
        .allMatch(x -> x.memory() == top), both.toString());
    // checkpointing alone also searches the caps up to the nodes' own memory
    assertEquals(5 * 3 * 3, Tuner.admissible(LAPTOP, TINY, List.of(true)).size());
    List<Tuner.Point> f = EX.frontier();
    assertTrue(f.size() >= 2, "frontier " + f.size());
    for (int i = 1; i < f.size(); i++) {
      assertTrue(f.get(i).layerFraction() > f.get(i - 1).layerFraction(), "fractions");
      assertTrue(f.get(i).iterationSeconds() > f.get(i - 1).iterationSeconds(), "seconds");
    }
    for (Tuner.Point p : EX.points()) {
      // nothing off the frontier dominates a frontier point
      for (Tuner.Point q : f) {
        assertTrue(!(p.iterationSeconds() < q.iterationSeconds()
            && p.layerFraction() >= q.layerFraction()), p.candidate() + " dominates "
            + q.candidate());
      }
    }
    for (Tuner.Point p : f) {
      ValidationReport r = ScheduleValidator.check(p.plan(), Simulator.run(p.plan()).spans());
      assertTrue(r.ok() && r.warnings().isEmpty(), p.candidate() + ": " + r);
      assertEquals(p.candidate().pathLength(), p.plan().constraints().pathLength());
      assertEquals(p.candidate().memory(), p.plan().constraints().memory());
      assertEquals(p.candidate().maxSwaps(), p.plan().constraints().maxSwaps());
      assertEquals(p.candidate().activationCheckpointing(),
          p.plan().model().activationCheckpointing());
    }
    for (Tuner.Point p : EX.points()) {
      if (p.candidate().activationCheckpointing()) {
        ValidationReport r = ScheduleValidator.check(p.plan(), Simulator.run(p.plan()).spans());
        assertTrue(r.ok(), p.candidate() + ": " + r);
      }
    }
  }

  /**
   * A cluster where memory, not compute, limits the pipeline: 4 stages of 2 nodes holding 2
   * microbatches each, 200 ms links, cheap compute (5 ms per sample-layer), 8 microbatches per
   * data node. Checkpointing lets a node hold more paths; its recompute costs 10 ms per backward.
   * The frontier must then hold checkpointed configurations with caps above the nodes' 2, every
   * entry validates, and the frontier stays monotone.
   */
  @Test
  void withCheckpointingTheFrontierReachesLargerMemoryCaps() {
    List<io.skippipe.scheduler.profile.Node> nodes = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      nodes.add(new io.skippipe.scheduler.profile.Node(i, "L" + i, 1.0, 2));
    }
    ClusterProfile c = new ClusterProfile("mem-bound", "", nodes, List.of(2, 2, 2, 2),
        Map.of(), new io.skippipe.scheduler.profile.Link(200, 1.0), 0.01, 0.005, false);
    ModelSpec m = io.skippipe.scheduler.Fixtures.model(4, 8);
    Tuner.Exploration ex = Tuner.explore(c, m, quick(), Tuner.admissible(c, m));
    List<Tuner.Point> f = ex.frontier();
    assertTrue(f.stream().anyMatch(p -> p.candidate().activationCheckpointing()
        && p.candidate().memory() > 2), f.stream().map(Tuner.Point::candidate).toList()
        .toString());
    for (int i = 1; i < f.size(); i++) {
      assertTrue(f.get(i).layerFraction() > f.get(i - 1).layerFraction(), "fractions");
      assertTrue(f.get(i).iterationSeconds() > f.get(i - 1).iterationSeconds(), "seconds");
    }
    for (Tuner.Point p : f) {
      ValidationReport r = ScheduleValidator.check(p.plan(), Simulator.run(p.plan()).spans());
      assertTrue(r.ok() && r.warnings().isEmpty(), p.candidate() + ": " + r);
    }
    // the same space without checkpointing is strictly slower at some path length
    Tuner.Exploration off = Tuner.explore(c, m, quick(), Tuner.admissible(c, m, List.of(false)));
    Tuner.Point best = f.stream().filter(p -> p.candidate().activationCheckpointing())
        .findFirst().orElseThrow();
    double offBest = off.points().stream()
        .filter(p -> p.candidate().pathLength() == best.candidate().pathLength())
        .mapToDouble(Tuner.Point::iterationSeconds).min().orElseThrow();
    assertTrue(best.iterationSeconds() < offBest, best.iterationSeconds() + " vs " + offBest);
    // the report says which configurations checkpoint
    TuneReport rep = new TuneReport("mem-bound", "test", ex,
        Tuner.throughputOnly(f, 1.0 / 3), List.of());
    var json = rep.toJson();
    for (var e : json.get("frontier")) {
      assertTrue(e.get("activationCheckpointing").isBoolean(), e.toString());
    }
    assertEquals(rep.decision().choice().candidate().activationCheckpointing(),
        json.get("choice").get("activationCheckpointing").asBoolean());
  }

  @Test
  void throughputOnlyPicksTheFastestWithinTheSkipBound() {
    Tuner.Decision d = Tuner.throughputOnly(EX.frontier(), 1.0 / 3);
    assertTrue(d.choice().skipRatio() <= 1.0 / 3 + 1e-9);
    for (Tuner.Point p : EX.frontier()) {
      if (p.skipRatio() <= 1.0 / 3 + 1e-9) {
        assertTrue(d.choice().iterationSeconds() <= p.iterationSeconds());
      }
    }
    // 6 stages: 4 of 6 is the shortest path within 1/3 skipped, and the fastest of those
    assertEquals(4, d.choice().candidate().pathLength());
  }

  /**
   * Synthetic curves built so that the middle frontier point needs 100 iterations to the target
   * and every other point 1 000: the middle one is analytically the fastest to the target (its
   * iteration is less than 10x slower than any other's), and with a budget of exactly its 100
   * iterations it is the only one that reaches the target.
   */
  @Test
  void decisionRulesPickTheAnalyticallyRightPointOnSyntheticCurves() {
    List<Tuner.Point> f = EX.frontier();
    Tuner.Point mid = f.get(f.size() / 2);
    double target = 3.0;
    double b = 0.5;
    Map<Integer, LossCurve> curves = new HashMap<>();
    for (Tuner.Point p : f) {
      double iters = p == mid ? 100 : 1000;
      double work = iters * p.sampleLayersPerIteration();
      curves.put(p.candidate().pathLength(), new LossCurve(target * Math.pow(work, b), b, 10));
    }
    Tuner.Decision d = Tuner.toTarget(f, curves, target);
    assertEquals(mid, d.choice());
    for (Tuner.Prediction pr : d.predictions()) {
      double want = pr.point() == mid ? 100 : 1000;
      assertEquals(want, pr.iterationsToTarget(), 1e-6);
      assertEquals(want * pr.point().iterationSeconds(), pr.secondsToTarget(), 1e-6);
    }
    Tuner.Decision budget = Tuner.withinBudget(f, curves, 100 * mid.iterationSeconds());
    assertEquals(mid, budget.choice());
    assertEquals(target, budget.predictions().stream().filter(p -> p.point() == mid)
        .findFirst().orElseThrow().lossAtBudget(), 1e-9);
  }

  @Test
  void aPowerLawIsRecoveredByTheFit() {
    List<LossCurve.Sample> s = new java.util.ArrayList<>();
    for (int i = 1; i <= 20; i++) {
      s.add(new LossCurve.Sample(1000.0 * i, 7.5 * Math.pow(1000.0 * i, -0.05)));
    }
    LossCurve c = LossCurve.fit(s);
    assertEquals(7.5, c.a(), 1e-9);
    assertEquals(0.05, c.b(), 1e-12);
    assertEquals(20_000, c.sampleLayersTo(c.loss(20_000)), 1e-6);
  }

  // auto on every shipped preset: spark-job's AutoTuningPresetsTest (through the job's own
  // planning step, the whole space, and the run directory's record)
}
