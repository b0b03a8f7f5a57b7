package io.skippipe.scheduler.simulate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.route.Microbatch;
import io.skippipe.scheduler.route.Path;
import io.skippipe.scheduler.route.Schedule;
import io.skippipe.scheduler.timeline.Span;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The phases after the pipeline on hand-checkable cases: ring all-reduce, scalar exchange,
 * optimizer step.
 *
 * <p>Model: dim 8, 2 heads (head dim 4), 2 KV heads, FFN 16, vocab 32, one layer per stage: a
 * layer has 2·8 + 2·8·8 + 2·8·8 + 3·8·16 = 656 parameters, so stage 1 all-reduces 2 624 bytes
 * and stage 0 holds 656 + 2·32·8 + 8 = 1 176 parameters.
 */
class WholeIterationTest {
  static final ModelSpec MODEL = new ModelSpec("m", "", 8, 2, 2, 2, 16, 32, 4, 1, 1, 1, 4);

  /** A link moving {@code bytesPerSecond} (exactly: GIB is a power of two). */
  static Link link(double latencyMs, double bytesPerSecond) {
    return new Link(latencyMs, bytesPerSecond / Link.GIB);
  }

  static ClusterProfile cluster(List<String> locations, List<Integer> sizes,
      Map<String, Link> links, double optimizerSecondsPerParameter) {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < locations.size(); i++) {
      nodes.add(new Node(i, locations.get(i), 1.0, 3));
    }
    // Same location: no latency, 2 GB/s (a 32-byte or 128-byte message rounds to 0 us).
    return new ClusterProfile("c", "", nodes, sizes, links, new Link(0, 2.0), 0, 1.0, false,
        optimizerSecondsPerParameter);
  }

  static Span span(SimulationResult r, int node, Span.Kind kind) {
    return r.spans().stream().filter(s -> s.node() == node && s.kind() == kind).findFirst()
        .orElseThrow();
  }

  @Test
  void parameterCountsAreTheLayoutsSums() {
    assertEquals(656, MODEL.parametersPerLayer());
    assertEquals(656, MODEL.parametersOfStage(1));
    assertEquals(1176, MODEL.parametersOfStage(0));
    assertEquals(2624, MODEL.gradientBytesOfStage(1));
  }

  @Test
  void twoReplicasOnEqualLinksTakeTheRingFormula() {
    // Stage 1 = nodes 1 (A) and 2 (B), no microbatch visits them: both start at 0.
    // Segment = 2624/2 = 1312 bytes; A-B: 100 ms + 1312 B / 1312 B/s = 1.1 s per step.
    // 2(n-1)/n * G / bandwidth + 2(n-1) * latency = 2624/1312 + 2 * 0.1 = 2.2 s.
    ClusterProfile c = cluster(List.of("A", "A", "B"), List.of(1, 2),
        Map.of(ClusterProfile.pairKey("A", "B"), link(100, 1312)), 0);
    CostModel costs = CostModel.of(c, MODEL);
    Schedule s = new Schedule(List.of(List.of(0), List.of(1, 2)), List.of());
    SimulationResult r = Simulator.run(s, costs);
    assertEquals(0, r.pipelineMicros());
    assertEquals(2_200_000, span(r, 1, Span.Kind.ALLREDUCE).endMicros());
    assertEquals(2_200_000, span(r, 2, Span.Kind.ALLREDUCE).endMicros());
    // Scalars: node 0 (A) hears node 2 (B) 100 ms + 32/1312 s = 124 390 us after 2.2 s.
    assertEquals(2_324_390, span(r, 0, Span.Kind.WAIT).endMicros());
    assertEquals(2_324_390, r.iterationMicros());
  }

  @Test
  void aLateReplicaTheScalarExchangeAndTheOptimizerStepAddUpByHand() {
    // One microbatch 0 -> 1 (both in A, hops 0): fwd 1 s, fwd 1 s, loss 0.25 s, bwd 1.5 s on
    // node 1 (ends 3.75 s), bwd 1.5 s on node 0 (pipeline 5.25 s). Node 2 (B) has no work.
    ClusterProfile c = cluster(List.of("A", "A", "B"), List.of(1, 2),
        Map.of(ClusterProfile.pairKey("A", "B"), link(100, 1312)), 0.001);
    CostModel costs = CostModel.of(c, MODEL);
    Schedule s = new Schedule(List.of(List.of(0), List.of(1, 2)),
        List.of(new Microbatch(0, 0, 0, Path.of(0, 1))));
    SimulationResult r = Simulator.run(s, costs);
    assertEquals(5_250_000, r.pipelineMicros());
    // Ring [1, 2], step 1.1 s: node 2 sent at 0, node 1 at 3.75 s. Step 0: node 1 has node 2's
    // segment (1.1 s) and goes on at 3.75 s; node 2 waits for node 1's until 4.85 s. Step 1:
    // node 1 gets node 2's second segment at 4.85 + 1.1 = 5.95 s; node 2 gets node 1's at
    // 3.75 + 1.1 = 4.85 s.
    assertEquals(3_750_000, span(r, 1, Span.Kind.ALLREDUCE).startMicros());
    assertEquals(5_950_000, span(r, 1, Span.Kind.ALLREDUCE).endMicros());
    assertEquals(4_850_000, span(r, 2, Span.Kind.ALLREDUCE).endMicros());
    // Scalars: node 0 is ready at 5.25, node 1 at 5.95, node 2 at 4.85 s; A-A messages take 0,
    // A-B 0.124 39 s. Node 0 and 1 finish at 5.95 s, node 2 at 5.95 + 0.124 39 = 6.074 39 s.
    assertEquals(5_950_000, span(r, 0, Span.Kind.WAIT).endMicros());
    assertEquals(6_074_390, span(r, 2, Span.Kind.WAIT).endMicros());
    // Optimizer at 1 ms per parameter: node 0 1.176 s (ends 7.126 s), node 1 0.656 s (6.606 s),
    // node 2 0.656 s (6.730 39 s).
    assertEquals(7_126_000, r.iterationMicros());
    assertEquals(7.126, r.iterationSeconds(), 1e-12);
    assertEquals(5.25, r.pipelineSeconds(), 1e-12);
  }

  @Test
  void aRingOfFourWithOneSlowLinkFollowsTheStepRecurrence() {
    // Segments 2624/4 = 656 bytes. Links 100 ms and 656 B/s (1.1 s per step), except D-E:
    // 300 ms and 328 B/s (2.3 s). Ring B -> C -> D -> E -> B, all start at 0. Replica r's step
    // k ends at max(its step k-1 end, predecessor's step k-1 end + link):
    // [1.1 1.1 1.1 2.3] [3.4 2.2 2.2 3.4] [4.5 4.5 3.3 4.5] [5.6 5.6 5.6 5.6]
    // [6.7 6.7 6.7 7.9] [9.0 7.8 7.8 9.0]: the slow link costs 9.0 s, between 6 fast steps
    // (6.6 s) and 6 steps each as slow as the slowest link (13.8 s): each replica waits for its
    // own predecessor only, as the runtime's ring does.
    Map<String, Link> links = new LinkedHashMap<>();
    String[] loc = {"B", "C", "D", "E"};
    for (int a = 0; a < 4; a++) {
      for (int b = a + 1; b < 4; b++) {
        boolean slow = loc[a].equals("D") && loc[b].equals("E");
        links.put(ClusterProfile.pairKey(loc[a], loc[b]),
            slow ? link(300, 328) : link(100, 656));
      }
    }
    ClusterProfile c = cluster(List.of("A", "B", "C", "D", "E"), List.of(1, 4), links, 0);
    CostModel costs = CostModel.of(c, MODEL);
    Schedule s = new Schedule(List.of(List.of(0), List.of(1, 2, 3, 4)), List.of());
    SimulationResult r = Simulator.run(s, costs);
    assertEquals(9_000_000, span(r, 1, Span.Kind.ALLREDUCE).endMicros());
    assertEquals(7_800_000, span(r, 2, Span.Kind.ALLREDUCE).endMicros());
    assertEquals(7_800_000, span(r, 3, Span.Kind.ALLREDUCE).endMicros());
    assertEquals(9_000_000, span(r, 4, Span.Kind.ALLREDUCE).endMicros());
    // Equal links everywhere: exactly 2(n-1) steps of 1.1 s.
    Map<String, Link> equal = new LinkedHashMap<>(links);
    equal.put(ClusterProfile.pairKey("D", "E"), link(100, 656));
    SimulationResult u = Simulator.run(s, CostModel.of(cluster(List.of("A", "B", "C", "D", "E"),
        List.of(1, 4), equal, 0), MODEL));
    for (int x = 1; x <= 4; x++) {
      assertEquals(6_600_000, span(u, x, Span.Kind.ALLREDUCE).endMicros());
    }
  }
}
