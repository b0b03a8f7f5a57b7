package io.skippipe.scheduler.replan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Re-planning around lost nodes (and with new ones) on laptop-geo-12: 6 stages of 2 nodes. */
class ReplannerTest {
  static Plan planned(String method) {
    PlannerConfig d = PlannerConfig.defaults(method);
    return Planner.plan(Presets.cluster("laptop-geo-12"), Presets.model("llama-tiny"),
        d.withAllocation(d.allocation().withGcma(20, 200).withEvaluations(10)));
  }

  static final Plan SKIPPIPE = planned("skippipe");
  static final Replanner.Settings STAY = new Replanner.Settings(50, 0, 5);

  static List<Integer> without(Plan p, Integer... gone) {
    List<Integer> live = new ArrayList<>(p.cluster().liveNodes());
    live.removeAll(List.of(gone));
    return live;
  }

  static void assertValid(Plan p) {
    ValidationReport r = ScheduleValidator.check(p, Simulator.run(p).spans());
    assertTrue(r.ok(), r.violations().toString());
    assertTrue(r.warnings().isEmpty(), r.warnings().toString());
  }

  @Test
  void aLostReplicaLeavesItsStageAndEverySurvivorKeepsItsStage() {
    int gone = SKIPPIPE.stages().get(2).get(1);
    Replanner.Replan r = Replanner.replan(SKIPPIPE, without(SKIPPIPE, gone), List.of(), STAY);
    Plan p = r.plan();
    assertValid(p);
    assertEquals(List.of(gone), r.lost());
    assertTrue(p.cluster().nodes().get(gone).lost());
    assertEquals(-1, p.stageOf(gone));
    for (int x : p.cluster().liveNodes()) {
      assertEquals(SKIPPIPE.stageOf(x), p.stageOf(x), "node " + x);
    }
    assertEquals(List.of(), r.moves());
    assertEquals(SKIPPIPE.microbatches().size(), p.microbatches().size());
    assertTrue(p.microbatches().stream().noneMatch(m -> m.path().contains(gone)));
    assertTrue(p.iterationSeconds() > 0);
  }

  @Test
  void aWholeLostStageIsSkippedByEveryPathAndTheFullPipelineShortens() throws Exception {
    Plan dtfm = planned("dtfm");
    List<Integer> stage3 = dtfm.stages().get(3);
    Replanner.Replan r = Replanner.replan(dtfm, without(dtfm, stage3.toArray(Integer[]::new)),
        List.of(), STAY);
    assertEquals(List.of(3), r.skippedStages());
    assertValid(r.plan());
    for (PlannedMicrobatch m : r.plan().microbatches()) {
      assertEquals(5, m.path().size(), "dtfm path " + m.path());
      assertTrue(m.path().stream().noneMatch(stage3::contains));
    }
    String json = io.skippipe.scheduler.plan.PlanCodec.toJsonString(r.plan());
    assertEquals("[3]", new com.fasterxml.jackson.databind.ObjectMapper().readTree(json)
        .get("skippedStages").toString());
    // skippipe keeps its 4 of 6 stages: 5 are left
    List<Integer> s3 = SKIPPIPE.stages().get(3);
    Replanner.Replan q = Replanner.replan(SKIPPIPE, without(SKIPPIPE, s3.toArray(Integer[]::new)),
        List.of(), STAY);
    assertValid(q.plan());
    assertEquals(4, q.plan().constraints().pathLength());
    assertTrue(q.plan().microbatches().stream().allMatch(m -> m.path().size() == 4));
  }

  @Test
  void aNewNodeRefillsTheEmptyStageFromTheCheckpointAndTheDataStageIsNeverEmpty() {
    List<Integer> s3 = SKIPPIPE.stages().get(3);
    Node fresh = new Node(0, "Iowa", 1.0, 2);
    Replanner.Replan r = Replanner.replan(SKIPPIPE, without(SKIPPIPE, s3.toArray(Integer[]::new)),
        List.of(fresh), STAY);
    int id = SKIPPIPE.nodeCount();
    assertEquals(List.of(id), r.plan().stages().get(3));
    assertEquals(List.of(), r.skippedStages());
    assertEquals(1, r.moves().size());
    Replanner.Move m = r.moves().get(0);
    assertEquals(id, m.node());
    assertEquals(-1, m.fromStage());
    assertEquals(3, m.toStage());
    // No live replica of stage 3: its weights and AdamW state come from the checkpoint, modelled
    // over the default link: 12 bytes per parameter of the stage.
    double bytes = 12.0 * SKIPPIPE.model().parametersOfStage(3);
    assertEquals(SKIPPIPE.cluster().defaultLink().transferSeconds((long) bytes), m.seconds(),
        1e-9);
    assertValid(r.plan());
    // Both data nodes lost: a replica of another stage becomes the data node.
    List<Integer> s0 = SKIPPIPE.stages().get(0);
    Replanner.Replan d = Replanner.replan(SKIPPIPE, without(SKIPPIPE, s0.toArray(Integer[]::new)),
        List.of(), STAY);
    assertEquals(1, d.plan().stages().get(0).size());
    assertValid(d.plan());
    assertThrows(PlanningException.class,
        () -> Replanner.replan(SKIPPIPE, List.of(), List.of(), STAY));
  }

  @Test
  void theSearchNeverLosesToKeepingEveryoneWhereTheyWereCountingWeightMovement() {
    int gone = SKIPPIPE.stages().get(1).get(0);
    List<Integer> live = without(SKIPPIPE, gone);
    for (int amortize : new int[] {1, 1000}) {
      Replanner.Replan stay = Replanner.replan(SKIPPIPE, live, List.of(),
          new Replanner.Settings(amortize, 0, 5));
      Replanner.Replan search = Replanner.replan(SKIPPIPE, live, List.of(),
          new Replanner.Settings(amortize, 40, 5));
      double a = stay.plan().iterationSeconds() + stay.movementSeconds() / amortize;
      double b = search.plan().iterationSeconds() + search.movementSeconds() / amortize;
      assertTrue(b <= a + 1e-9, amortize + ": " + b + " > " + a);
      assertEquals(SKIPPIPE.stages().get(0), search.plan().stages().get(0), "data nodes kept");
      assertValid(search.plan());
    }
  }
}
