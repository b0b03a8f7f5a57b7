package io.skippipe.scheduler.simulate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.route.Microbatch;
import io.skippipe.scheduler.route.Path;
import io.skippipe.scheduler.route.Schedule;
import io.skippipe.scheduler.timeline.Span;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Hand-checkable simulator cases (spec §9.4 S1 and S4, memory cap, backward-first). */
class SimulatorTest {

  private static double[][] uniform(int n, double d) {
    double[][] h = new double[n][n];
    for (int x = 0; x < n; x++) {
      for (int y = 0; y < n; y++) {
        h[x][y] = x == y ? 0 : d;
      }
    }
    return h;
  }

  private static Span span(SimulationResult r, int mb, int node, Span.Kind kind) {
    return r.spans().stream().filter(s -> s.microbatch() == mb && s.node() == node
        && s.kind() == kind).findFirst().orElseThrow();
  }

  @Test
  void s1ThreeStagesOneMicrobatchTakesExactly10_75Seconds() {
    CostModel costs = CostModel.ofSeconds(new double[] {1, 1, 1}, uniform(3, 0.5),
        new int[] {3, 3, 3});
    Schedule s = new Schedule(List.of(List.of(0), List.of(1), List.of(2)),
        List.of(new Microbatch(0, 0, 0, Path.of(0, 1, 2))));
    SimulationResult r = Simulator.run(s, costs);
    assertEquals(10_750_000L, r.pipelineMicros());
    assertEquals(10.75, r.pipelineSeconds());
    // n0 fwd [0,1]; n1 fwd [1.5,2.5]; n2 fwd [3,4]; loss [4.5,4.75]; n2 bwd [5.25,6.75];
    // n1 bwd [7.25,8.75]; n0 bwd [9.25,10.75].
    assertEquals(3_000_000L, span(r, 0, 2, Span.Kind.FWD).startMicros());
    assertEquals(4_500_000L, span(r, 0, 0, Span.Kind.LOSS).startMicros());
    assertEquals(4_750_000L, span(r, 0, 0, Span.Kind.LOSS).endMicros());
    assertEquals(7_250_000L, span(r, 0, 1, Span.Kind.BWD).startMicros());
    assertEquals(9_250_000L, span(r, 0, 0, Span.Kind.BWD).startMicros());
    assertEquals(7, r.spans().stream().filter(Span::isCompute).count());
  }

  @Test
  void s4SkipAndReorderOnHeterogeneousNodesTakesExactly11_2Seconds() {
    double[][] h = new double[4][4];
    double[][] pairs = {{0, 1, 0.3}, {0, 2, 0.7}, {0, 3, 0.2}, {1, 2, 0.4}, {1, 3, 0.6},
        {2, 3, 0.1}};
    for (double[] p : pairs) {
      h[(int) p[0]][(int) p[1]] = p[2];
      h[(int) p[1]][(int) p[0]] = p[2];
    }
    CostModel costs = CostModel.ofSeconds(new double[] {1.0, 2.0, 1.5, 0.5}, h,
        new int[] {3, 3, 3, 3});
    Schedule s = new Schedule(List.of(List.of(0), List.of(1), List.of(2), List.of(3)),
        List.of(new Microbatch(0, 0, 0, Path.of(0, 3, 1))));
    SimulationResult r = Simulator.run(s, costs);
    assertEquals(11_200_000L, r.pipelineMicros());
    assertEquals(2_300_000L, span(r, 0, 1, Span.Kind.FWD).startMicros());
    assertEquals(5_150_000L, span(r, 0, 1, Span.Kind.BWD).startMicros());
    assertEquals(8_750_000L, span(r, 0, 3, Span.Kind.BWD).startMicros());
  }

  @Test
  void forwardWaitsForABackwardWhenTheNodeMemoryIsFull() {
    // Node 2 holds one activation; microbatches 0 and 1 both reach it at 1.5 s.
    CostModel costs = CostModel.ofSeconds(new double[] {1, 1, 1}, uniform(3, 0.5),
        new int[] {3, 3, 1});
    Schedule s = new Schedule(List.of(List.of(0, 1), List.of(2)), List.of(
        new Microbatch(0, 0, 0, Path.of(0, 2)), new Microbatch(1, 1, 0, Path.of(1, 2))));
    SimulationResult r = Simulator.run(s, costs);
    assertEquals(1_500_000L, span(r, 0, 2, Span.Kind.FWD).startMicros()); // lower id first
    Span bwd0 = span(r, 0, 2, Span.Kind.BWD);
    assertEquals(3_750_000L, bwd0.startMicros());
    assertEquals(5_250_000L, bwd0.endMicros());
    // Without the cap it would have started at 2.5 s; it starts when the backward frees memory.
    assertEquals(bwd0.endMicros(), span(r, 1, 2, Span.Kind.FWD).startMicros());
    assertEquals(11_000_000L, r.pipelineMicros());
    assertFalse(r.deadlocked());
  }

  @Test
  void backwardGoesBeforeAForwardReadyAtTheSameTimeEvenWithAHigherId() {
    CostModel costs = CostModel.ofSeconds(new double[] {1, 1, 1}, uniform(3, 0.5),
        new int[] {3, 3, 3});
    // id 1 (released 0) comes back to node 2 for its backward at 3.75 s; id 0 (released 2.25 s)
    // reaches node 2 for its forward at 3.75 s too.
    Schedule s = new Schedule(List.of(List.of(0, 1), List.of(2)), List.of(
        new Microbatch(1, 0, 0, Path.of(0, 2)), new Microbatch(0, 1, 2_250_000, Path.of(1, 2))));
    SimulationResult r = Simulator.run(s, costs);
    Span bwd = span(r, 1, 2, Span.Kind.BWD);
    Span fwd = span(r, 0, 2, Span.Kind.FWD);
    assertEquals(3_750_000L, bwd.startMicros());
    assertEquals(bwd.endMicros(), fwd.startMicros());
  }

  @Test
  void busyFractionsAndSendSpansAreReported() {
    CostModel costs = CostModel.ofSeconds(new double[] {1, 1, 1}, uniform(3, 0.5),
        new int[] {3, 3, 3});
    Schedule s = new Schedule(List.of(List.of(0), List.of(1), List.of(2)),
        List.of(new Microbatch(0, 0, 0, Path.of(0, 1, 2))));
    SimulationResult r = Simulator.run(s, costs);
    // node 0: fwd 1 + loss 0.25 + bwd 1.5 = 2.75 of 10.75
    assertEquals(2.75 / 10.75, r.busyFractionByNode()[0], 1e-9);
    assertEquals(6, r.spans().stream().filter(x -> x.kind() == Span.Kind.SEND).count());
    assertTrue(r.spans().stream().filter(x -> x.kind() == Span.Kind.SEND)
        .allMatch(x -> x.durationMicros() == 500_000));
  }

  @Test
  void withLinkContentionASecondTransferOnTheSameLinkWaitsForTheBytesOfTheFirst() {
    var cluster = new io.skippipe.scheduler.profile.ClusterProfile("c", "",
        List.of(new io.skippipe.scheduler.profile.Node(0, "A", 1.0, 3),
            new io.skippipe.scheduler.profile.Node(1, "A", 2.0, 3),
            new io.skippipe.scheduler.profile.Node(2, "B", 1.0, 3)),
        List.of(2, 1), java.util.Map.of(io.skippipe.scheduler.profile.ClusterProfile.pairKey("A",
            "B"), new io.skippipe.scheduler.profile.Link(0, 1.0 / 1024)), // 1 MiB/s
        new io.skippipe.scheduler.profile.Link(0, 1.0), 0, 0.25, true);
    // One sample of dim 256 x seq 1024 x 4 B = 1 MiB: one second on the A-B link.
    var model = new io.skippipe.scheduler.profile.ModelSpec("m", "", 256, 2, 2, 2, 8, 8, 1024, 1,
        1, 1, 4);
    CostModel costs = CostModel.of(cluster, model);
    Schedule s = new Schedule(List.of(List.of(0, 1), List.of(2)), List.of(
        new Microbatch(0, 0, 0, Path.of(0, 2)), new Microbatch(1, 0, 0, Path.of(0, 2))));
    SimulationResult r = Simulator.run(s, costs);
    // Both microbatches leave node 0 over the same link 0->2: 0.25 s and 0.5 s forward ends;
    // the second transfer starts when the first one's bytes are through (1.25 s), arrives 2.25 s.
    assertEquals(1_250_000L, span(r, 0, 2, Span.Kind.FWD).startMicros());
    assertEquals(2_250_000L, span(r, 1, 2, Span.Kind.FWD).startMicros());
    var free = new io.skippipe.scheduler.profile.ClusterProfile("c", "", cluster.nodes(),
        cluster.stageSizes(), cluster.links(), cluster.defaultLink(), 0, 0.25, false);
    SimulationResult r2 = Simulator.run(s, CostModel.of(free, model));
    assertEquals(1_500_000L, span(r2, 1, 2, Span.Kind.FWD).startMicros());
  }
}
