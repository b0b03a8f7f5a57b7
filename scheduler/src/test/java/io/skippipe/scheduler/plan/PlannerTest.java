package io.skippipe.scheduler.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import io.skippipe.scheduler.validate.Violation;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Planner end to end on the presets; determinism; the reference replay; input errors. */
class PlannerTest {

  private static PlannerConfig quick(String method, long seed) {
    PlannerConfig d = PlannerConfig.defaults(method);
    return d.withSeed(seed).withAllocation(d.allocation().withGcma(50, 500).withEvaluations(30));
  }

  private static byte[] bytes(Plan p) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PlanCodec.write(p, out);
    return out.toByteArray();
  }

  @Test
  void samePresetAndSeedGiveByteIdenticalPlanJson() {
    ClusterProfile c = Presets.cluster("laptop-geo-12");
    ModelSpec m = Presets.model("llama-tiny");
    byte[] a = bytes(Planner.plan(c, m, quick("skippipe", 11)));
    byte[] b = bytes(Planner.plan(c, m, quick("skippipe", 11)));
    assertArrayEquals(a, b);
    String text = new String(a, StandardCharsets.UTF_8);
    assertTrue(text.contains("\"format\" : \"skippipe-plan/1\""), text.substring(0, 200));
    // Round trip: reading and writing again gives the same bytes.
    Plan back = PlanCodec.read(new ByteArrayInputStream(a));
    assertArrayEquals(a, bytes(back));
  }

  @Test
  void skippipeBeatsTheFullPipelineAndNeverLosesToItsAblationsOnGeo20() {
    ClusterProfile c = Presets.cluster("geo-distributed-gcp-20");
    ModelSpec m = Presets.model("llama-500m");
    PlannerConfig base = quick("skippipe", 5);
    base = base.withStages(Planner.allocate(io.skippipe.scheduler.cost.CostModel.of(c, m), c, m,
        base.withAllocation(base.allocation().withAllocator("genetic"))));
    double dtfm = Planner.plan(c, m, base.withMethod("dtfm")).iterationSeconds();
    double skip = Planner.plan(c, m, base.withMethod("dtfm-skip")).iterationSeconds();
    double noTc2 = Planner.plan(c, m, base.withMethod("skippipe-no-tc2")).iterationSeconds();
    double sp = Planner.plan(c, m, base).iterationSeconds();
    assertTrue(sp <= noTc2 && sp <= skip, sp + " vs no-tc2 " + noTc2 + ", dtfm-skip " + skip);
    assertTrue(sp < dtfm, sp + " vs dtfm " + dtfm);
  }

  @Test
  void theReferenceHeadScheduleReplaysValidatesAndSimulates() throws Exception {
    Plan plan;
    try (InputStream in = getClass().getResourceAsStream("/replay/reference-head-skippipe.json")) {
      plan = PlanCodec.read(in);
    }
    assertEquals(30, plan.microbatches().size());
    SimulationResult sim = Simulator.run(plan);
    ValidationReport r = ScheduleValidator.check(plan, sim.spans());
    assertTrue(r.ok(), r.violations().toString());
    // The reference simulated this very schedule at 77.7207 s (ca-expected-time, spec §9.1). Our
    // simulator differs in event handling (no per-task gaps or polling, its own ready order:
    // docs/PLANNER.md) and gives 79.36 s; 5 % bounds what those differences may cost, and a
    // broken replay (wrong node order, lost microbatches, another cost model) lands far outside.
    assertEquals(77.7207, sim.pipelineSeconds(), 0.05 * 77.7207,
        "pipeline seconds of the reference's own schedule");
    assertTrue(sim.iterationSeconds() > sim.pipelineSeconds(), "the whole iteration adds the"
        + " stage all-reduce and the optimizer step: " + sim.iterationSeconds());
    // The reference's TC2 search keeps its best simulated schedule without re-checking TC1-b:
    // four of its paths go through node 4. With the paper's memory 3 our validator says so — as a
    // warning: TC1 is a throughput objective, the plan still runs.
    Constraints c = plan.constraints();
    Plan strict = new Plan(plan.format(), plan.method(), plan.seed(), plan.cluster(), plan.model(),
        new Constraints(c.pathLength(), c.maxSwaps(), c.maxSwapDistance(), c.maxJump(), 3,
            c.stageCap()), plan.stages(), plan.microbatches(), null);
    ValidationReport rs = ScheduleValidator.checkPaths(strict);
    assertTrue(rs.has(Violation.Kind.NODE_CAP), rs.warnings().toString());
    assertTrue(rs.warnings().toString().contains("node 4"), rs.warnings().toString());
    assertTrue(rs.ok(), rs.violations().toString());
  }

  @Test
  void userErrorsNameTheValueTheRuleAndTheFix() {
    ClusterProfile c = Presets.cluster("geo-distributed-gcp-20");
    PlanningException e = assertThrows(PlanningException.class,
        () -> Planner.plan(c, Presets.model("llama-8b"), quick("skippipe", 5)));
    assertTrue(e.getMessage().contains("llama-8b") && e.getMessage().contains("Fix:"));
    PlannerConfig d = quick("skippipe", 5);
    PlannerConfig badRatio = d.withLimits(d.limits().withSkipRatio(0.3));
    e = assertThrows(PlanningException.class,
        () -> Planner.plan(c, Presets.model("llama-500m"), badRatio));
    assertTrue(e.getMessage().contains("skip ratio 0.3"), e.getMessage());
    e = assertThrows(PlanningException.class,
        () -> Planner.plan(c, Presets.model("llama-500m"),
            d.withLimits(d.limits().withMemory(0))));
    assertTrue(e.getMessage().contains("memory 0"), e.getMessage());
    PlannerConfig badStages = d.withStages(List.of(List.of(0, 1), List.of(2)));
    e = assertThrows(PlanningException.class,
        () -> Planner.plan(c, Presets.model("llama-500m"), badStages));
    assertTrue(e.getMessage().contains("stages"), e.getMessage());
    assertThrows(PlanningException.class, () -> PlannerConfig.defaults("fastest"));
  }
}
