package io.skippipe.scheduler.cost;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.scheduler.Fixtures;
import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.profile.ProfileJson;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.Violation;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Activation checkpointing in the planner: the recomputed forward in every backward, the larger
 * number of microbatches a node holds, and plans without it unchanged.
 */
class ActivationCheckpointingTest {
  /** Two nodes at one location, stage sizes [1, 1]; node 1 runs at half speed. */
  private static ClusterProfile twoNodes(int memory, double latencyMs) {
    return new ClusterProfile("two", "", List.of(new Node(0, "A", 1.0, memory),
        new Node(1, "A", 0.5, memory)), List.of(1, 1), Map.of(), new Link(latencyMs, 1.0),
        0.01, 0.05, false);
  }

  /** A plan of {@code mbs} microbatches, all on path [0, 1]. */
  private static Plan plan(ClusterProfile c, ModelSpec m, int mbs) {
    List<PlannedMicrobatch> list = new ArrayList<>();
    for (int i = 0; i < mbs; i++) {
      list.add(new PlannedMicrobatch(i, 0, 0.0, List.of(0, 1)));
    }
    return new Plan(Plan.FORMAT, "test", 0, c, m, new Constraints(2, 0, 0, 1, 1, 1),
        List.of(List.of(0), List.of(1)), list, null);
  }

  /**
   * One microbatch on path [0, 1], by hand: forward w = 0.05 s/sample-layer × 2 layers × 1 sample
   * / speed (node 0: 0.1 s, node 1: 0.2 s); every hop 10 ms latency + 10 ms overhead (+128 B at
   * 1 GiB/s, under half a microsecond); loss w0/4 = 0.025 s. Pipeline: F0 0.1, hop, F1 0.2, hop,
   * loss 0.025, hop, B1, hop, B0 = 0.405 s + B1 + B0, with B = 1.5 w without checkpointing
   * (0.3 + 0.15: 0.855 s) and 2.5 w with it (0.5 + 0.25: 1.155 s): exactly w0 + w1 more.
   */
  @Test
  void theRecomputedForwardIsInEveryBackwardOfTheSimulatedIteration() {
    ClusterProfile c = twoNodes(2, 10);
    ModelSpec off = Fixtures.model(2, 1);
    ModelSpec on = off.withActivationCheckpointing(true);
    SimulationResult a = Simulator.run(plan(c, off, 1));
    SimulationResult b = Simulator.run(plan(c, on, 1));
    assertEquals(0.855, a.pipelineSeconds(), 1e-6);
    assertEquals(1.155, b.pipelineSeconds(), 1e-6);
    for (Span s : b.spans()) {
      if (s.kind() == Span.Kind.BWD) {
        assertEquals(s.node() == 0 ? 250_000 : 500_000, s.durationMicros(), s.toString());
      }
    }
    // the whole iteration adds the same after-pipeline work to both
    assertEquals(0.3, b.iterationSeconds() - a.iterationSeconds(), 1e-6);
    // the independent validator checks the longer backwards, and rejects them without the flag
    assertTrue(ScheduleValidator.check(plan(c, on, 1), b.spans()).ok());
    assertTrue(ScheduleValidator.check(plan(c, off, 1), a.spans()).ok());
    assertTrue(ScheduleValidator.check(plan(c, off, 1), b.spans()).has(Violation.Kind.DURATION));
  }

  /**
   * Four microbatches on path [0, 1] over 1 s links (every forward is done long before the first
   * loss returns): nodes of memory 2 hold 2 at a time without checkpointing, all 4 with it (the
   * test model keeps 38 stage inputs in the memory of 2 full microbatches).
   */
  @Test
  void checkpointingRaisesTheMicrobatchesANodeHoldsInTheSimulator() {
    ClusterProfile c = twoNodes(2, 1000);
    ModelSpec off = Fixtures.model(2, 4);
    ModelSpec on = off.withActivationCheckpointing(true);
    assertEquals(2, CostModel.of(c, off).memory(1));
    assertEquals(38, CostModel.of(c, on).memory(1));
    SimulationResult a = Simulator.run(plan(c, off, 4));
    SimulationResult b = Simulator.run(plan(c, on, 4));
    assertEquals(2, maxHeld(a.spans(), 1));
    assertEquals(4, maxHeld(b.spans(), 1));
    assertTrue(b.pipelineSeconds() < a.pipelineSeconds(), a.pipelineSeconds() + " vs "
        + b.pipelineSeconds());
    assertTrue(ScheduleValidator.check(plan(c, on, 4), b.spans()).ok());
    // the validator's memory rule uses the same count: 4 in flight is a violation without it
    assertTrue(ScheduleValidator.check(plan(c, off, 4), b.spans()).has(Violation.Kind.MEMORY));
  }

  private static int maxHeld(List<Span> spans, int node) {
    List<long[]> d = new ArrayList<>();
    for (Span s : spans) {
      if (s.node() == node && s.kind() == Span.Kind.FWD) {
        d.add(new long[] {s.startMicros(), 1});
      } else if (s.node() == node && s.kind() == Span.Kind.BWD) {
        d.add(new long[] {s.endMicros(), -1});
      }
    }
    d.sort((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
    int held = 0;
    int max = 0;
    for (long[] x : d) {
      held += (int) x[1];
      max = Math.max(max, held);
    }
    return max;
  }

  /**
   * llama-500m (D 1024, F 4096, H 16, T 1024, B 8, 4 layers per stage, fp32) by hand: a layer
   * keeps T·(8D + 5F) + H·T² = 1024·28672 + 16·1024² = 46 137 344 elements per sequence, so a
   * microbatch 4 B × 8 × 4 × that = 5 905 580 032 B; under checkpointing its stage input
   * 4 × 8 × 1024 × 1024 = 33 554 432 B, 176× less; a node of memory 3 then holds
   * ⌊(3 − 1) × 176⌋ = 352.
   */
  @Test
  void microbatchesHeldFollowTheModelsSavedActivations() {
    ModelSpec m = Presets.model("llama-500m");
    assertEquals(5_905_580_032L, m.activationBytesHeldPerMicrobatch());
    ModelSpec on = m.withActivationCheckpointing(true);
    assertEquals(33_554_432L, on.activationBytesHeldPerMicrobatch());
    assertEquals(3, m.microbatchesHeld(3));
    assertEquals(352, on.microbatchesHeld(3));
    assertEquals(1, on.microbatchesHeld(1)); // one full microbatch leaves no room for more
    // bf16 halves both, the ratio stays
    assertEquals(352, on.withActivationBytesPerElement(2).microbatchesHeld(3));
    assertThrows(IllegalArgumentException.class, () -> on.microbatchesHeld(0));
  }

  @Test
  void theModelJsonCarriesTheFlagOnlyWhenOn() throws Exception {
    ModelSpec off = Presets.model("llama-tiny");
    ModelSpec on = off.withActivationCheckpointing(true);
    assertFalse(ProfileJson.toJson(off).has("activationCheckpointing"));
    assertTrue(ProfileJson.toJson(on).get("activationCheckpointing").asBoolean());
    assertEquals(on, ProfileJson.model(ProfileJson.toJson(on), "m"));
    assertEquals(off, ProfileJson.model(ProfileJson.toJson(off), "m"));
    var bad = ProfileJson.toJson(off).put("activationCheckpointing", "yes");
    PlanningException e = assertThrows(PlanningException.class,
        () -> ProfileJson.model(bad, "model x"));
    assertTrue(e.getMessage().contains("\"activationCheckpointing\"")
        && e.getMessage().contains("true or false"), e.getMessage());
  }

  private static PlannerConfig quick(long seed) {
    PlannerConfig d = PlannerConfig.defaults("skippipe");
    return d.withSeed(seed).withAllocation(d.allocation().withGcma(50, 500).withEvaluations(30));
  }

  private static String golden(String name) throws IOException {
    try (InputStream in = ActivationCheckpointingTest.class.getResourceAsStream(
        "/golden/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * Without activation checkpointing (the default) plan.json is byte for byte what the planner
   * wrote before checkpointing was planned for ({@code src/test/resources/golden}, written by
   * commit 84b1553's planner with the same inputs and seed); with it, the plan differs, says so
   * in its model, reads back equal and validates.
   */
  @Test
  void plansWithoutCheckpointingAreUnchanged() throws Exception {
    String[][] cases = {{"laptop-geo-12", "llama-tiny", "11"},
        {"geo-distributed-gcp-20", "llama-500m", "5"}};
    for (String[] k : cases) {
      ClusterProfile c = Presets.cluster(k[0]);
      ModelSpec m = Presets.model(k[1]);
      Plan p = Planner.plan(c, m, quick(Long.parseLong(k[2])));
      assertEquals(golden(k[0] + "." + k[1] + ".skippipe.seed" + k[2] + ".plan.json"),
          PlanCodec.toJsonString(p), k[0]);
    }
    ClusterProfile c = Presets.cluster("laptop-geo-12");
    ModelSpec on = Presets.model("llama-tiny").withActivationCheckpointing(true);
    Plan p = Planner.plan(c, on, quick(11));
    String json = PlanCodec.toJsonString(p);
    assertTrue(new ObjectMapper().readTree(json).get("model").get("activationCheckpointing")
        .asBoolean(), json.substring(0, 400));
    Plan back = PlanCodec.read(new java.io.ByteArrayInputStream(
        json.getBytes(StandardCharsets.UTF_8)));
    assertEquals(on, back.model());
    assertArrayEquals(json.getBytes(StandardCharsets.UTF_8),
        PlanCodec.toJsonString(back).getBytes(StandardCharsets.UTF_8));
    SimulationResult sim = Simulator.run(back);
    assertEquals(p.iterationSeconds(), sim.iterationSeconds(), 1e-9);
    assertTrue(ScheduleValidator.check(back, sim.spans()).ok());
  }
}
