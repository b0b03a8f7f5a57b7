package io.skippipe.scheduler.validate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.Fixtures;
import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.validate.Violation.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;

/** A valid hand-made plan, then each violation kind injected: the validator must name it. */
class ScheduleValidatorTest {
  private static final ClusterProfile CLUSTER = Fixtures.randomCluster(List.of(2, 2, 2, 2), 3, 3,
      RandomGeneratorFactory.of("L64X128MixRandom").create(7));
  private static final Constraints LIMITS = new Constraints(3, 1, 1, 2, 3, 6);

  private static Plan base() {
    List<PlannedMicrobatch> mbs = List.of(
        new PlannedMicrobatch(0, 0, 0, List.of(0, 2, 4)),
        new PlannedMicrobatch(1, 0, 0, List.of(0, 3, 6)),
        new PlannedMicrobatch(2, 1, 0, List.of(1, 4, 2)), // stage 2 then 1: one swap
        new PlannedMicrobatch(3, 1, 0, List.of(1, 5, 7)));
    return new Plan(Plan.FORMAT, "test", 1, CLUSTER, Fixtures.model(4, 2), LIMITS,
        List.of(List.of(0, 1), List.of(2, 3), List.of(4, 5), List.of(6, 7)), mbs, null);
  }

  private static Plan withPath(Plan p, int id, List<Integer> path) {
    List<PlannedMicrobatch> mbs = new ArrayList<>();
    for (PlannedMicrobatch m : p.microbatches()) {
      mbs.add(m.id() == id ? new PlannedMicrobatch(id, m.dataNode(), m.releaseSeconds(), path)
          : m);
    }
    return new Plan(p.format(), p.method(), p.seed(), p.cluster(), p.model(), p.constraints(),
        p.stages(), mbs, p.predicted());
  }

  private static Plan withLimits(Plan p, Constraints c) {
    return new Plan(p.format(), p.method(), p.seed(), p.cluster(), p.model(), c, p.stages(),
        p.microbatches(), p.predicted());
  }

  private static ValidationReport checkSimulated(Plan p) {
    return ScheduleValidator.check(p, Simulator.run(p).spans());
  }

  private static ValidationReport checkEdited(UnaryOperator<List<Span>> edit) {
    Plan p = base();
    List<Span> spans = new ArrayList<>(Simulator.run(p).spans());
    return ScheduleValidator.check(p, edit.apply(spans));
  }

  private static void assertNames(ValidationReport r, Kind kind, String... fragments) {
    assertTrue(r.has(kind), "expected " + kind + " in " + r.violations());
    String text = r.violations().stream().filter(v -> v.kind() == kind).toList().toString();
    for (String f : fragments) {
      assertTrue(text.contains(f), "expected '" + f + "' in " + text);
    }
    PlanningException e = assertThrows(PlanningException.class, r::throwIfInvalid);
    assertTrue(e.getMessage().contains(kind.name()), e.getMessage());
  }

  @Test
  void theHandMadePlanIsValidAndItsMakespanMatches() {
    Plan p = base();
    SimulationResult sim = Simulator.run(p);
    Plan withPrediction = p.withPredicted(new Plan.Predicted(sim.iterationSeconds(),
        sim.pipelineSeconds(), null));
    ValidationReport r = ScheduleValidator.check(withPrediction, sim.spans());
    assertTrue(r.ok(), r.violations().toString());
    r.throwIfInvalid();
  }

  @Test
  void pathRulesAreNamed() {
    Plan p = base();
    assertNames(checkSimulated(withPath(p, 0, List.of(0, 2))), Kind.PATH_LENGTH,
        "microbatch 0");
    assertNames(ScheduleValidator.checkPaths(withPath(p, 0, List.of(1, 2, 4))), Kind.PATH_START,
        "microbatch 0");
    assertNames(ScheduleValidator.checkPaths(withPath(p, 0, List.of(0, 2, 42))),
        Kind.UNKNOWN_NODE, "microbatch 0", "node 42");
    assertNames(checkSimulated(withPath(p, 0, List.of(0, 2, 3))), Kind.STAGE_REPEAT,
        "microbatch 0", "node 3");
    assertNames(checkSimulated(withLimits(p, new Constraints(3, 0, 1, 2, 3, 6))),
        Kind.SWAP_LIMIT, "microbatch 2");
    assertNames(checkSimulated(withLimits(withPath(p, 0, List.of(0, 6, 2)),
        new Constraints(3, 1, 1, 3, 3, 6))), Kind.SWAP_DISTANCE, "microbatch 0", "node 2");
    assertNames(checkSimulated(withPath(p, 0, List.of(0, 6, 4))), Kind.JUMP_LIMIT,
        "microbatch 0", "node 6");
  }

  @Test
  void stagesMicrobatchCountAndCapsAreNamed() {
    Plan p = base();
    Plan badStages = new Plan(p.format(), p.method(), p.seed(), p.cluster(), p.model(),
        p.constraints(), List.of(List.of(0, 1), List.of(2, 3), List.of(4, 5), List.of(6)),
        p.microbatches(), null);
    assertNames(ScheduleValidator.checkPaths(badStages), Kind.STAGES, "node 7");
    Plan fewer = new Plan(p.format(), p.method(), p.seed(), p.cluster(), p.model(),
        p.constraints(), p.stages(), p.microbatches().subList(0, 3), null);
    assertNames(ScheduleValidator.checkPaths(fewer), Kind.MICROBATCHES, "3 microbatches");
    assertWarns(checkSimulated(withLimits(p, new Constraints(3, 1, 1, 2, 3, 1))),
        Kind.STAGE_CAP, "stage 1");
    assertWarns(checkSimulated(withLimits(p, new Constraints(3, 1, 1, 2, 1, 6))),
        Kind.NODE_CAP, "node 2");
  }

  /** A throughput cap exceeded: named as a warning, and the plan stays valid. */
  private static void assertWarns(ValidationReport r, Kind kind, String fragment) {
    assertTrue(r.ok(), "caps are not violations: " + r.violations());
    assertTrue(r.warnings().stream().anyMatch(w -> w.kind() == kind
        && w.toString().contains(fragment)), "expected " + kind + " '" + fragment + "' in "
        + r.warnings());
    r.throwIfInvalid();
    assertTrue(r.warningLines().get(0).startsWith("warning: "), r.warningLines().toString());
  }

  @Test
  void lostNodesMayNotBeListedOrVisited() {
    Plan p = base();
    List<Node> nodes = new ArrayList<>(p.cluster().nodes());
    nodes.set(7, nodes.get(7).withLost(true));
    ClusterProfile c = p.cluster().withNodes(nodes, List.of(2, 2, 2, 1));
    Plan listed = new Plan(p.format(), p.method(), p.seed(), c, p.model(), p.constraints(),
        p.stages(), p.microbatches(), null);
    assertNames(ScheduleValidator.checkPaths(listed), Kind.STAGES, "node 7", "lost");
    Plan visited = new Plan(p.format(), p.method(), p.seed(), c, p.model(), p.constraints(),
        List.of(List.of(0, 1), List.of(2, 3), List.of(4, 5), List.of(6)), p.microbatches(),
        null);
    assertNames(ScheduleValidator.checkPaths(visited), Kind.UNKNOWN_NODE, "microbatch 3",
        "node 7", "lost");
  }

  @Test
  void anAllReduceShorterThanTheRingOrBeforeThePipelineEndIsNamed() {
    Plan p = base();
    List<Span> spans = new ArrayList<>(Simulator.run(p).spans());
    assertTrue(ScheduleValidator.check(p, spans).ok());
    Span ar = spans.stream().filter(x -> x.kind() == Span.Kind.ALLREDUCE && x.node() == 2)
        .findFirst().orElseThrow();
    List<Span> shorter = new ArrayList<>(spans);
    shorter.set(spans.indexOf(ar), new Span(2, ar.stage(), -1, Span.Kind.ALLREDUCE,
        ar.startMicros(), ar.startMicros() + 1));
    assertNames(ScheduleValidator.check(p, shorter), Kind.ALLREDUCE, "at node 2",
        "needs at least");
    List<Span> early = new ArrayList<>(spans);
    early.set(spans.indexOf(ar), new Span(2, ar.stage(), -1, Span.Kind.ALLREDUCE, 0,
        ar.endMicros()));
    assertNames(ScheduleValidator.check(p, early), Kind.ALLREDUCE, "at node 2",
        "before node 2's last compute task");
    List<Span> missing = new ArrayList<>(spans);
    missing.remove(ar);
    assertNames(ScheduleValidator.check(p, missing), Kind.ALLREDUCE, "no all-reduce span for"
        + " node 2");
  }

  @Test
  void timelineRulesAreNamed() {
    assertNames(checkEdited(s -> {
      s.remove(s.stream().filter(x -> x.microbatch() == 1 && x.kind() == Span.Kind.LOSS)
          .findFirst().orElseThrow());
      return s;
    }), Kind.MISSING_TASK, "microbatch 1");
    assertNames(checkEdited(s -> replace(s, 3, Span.Kind.BWD, 7, 0, 1000)), Kind.DURATION,
        "microbatch 3", "node 7");
    assertNames(checkEdited(s -> replace(s, 0, Span.Kind.FWD, 4, -50_000, -50_000)),
        Kind.DEPENDENCY, "microbatch 0", "node 4");
    Plan late = base();
    List<PlannedMicrobatch> mbs = new ArrayList<>(late.microbatches());
    mbs.set(0, new PlannedMicrobatch(0, 0, 100.0, List.of(0, 2, 4)));
    Plan latePlan = new Plan(late.format(), late.method(), late.seed(), late.cluster(),
        late.model(), late.constraints(), late.stages(), mbs, null);
    assertNames(ScheduleValidator.check(latePlan, Simulator.run(base()).spans()), Kind.RELEASE,
        "microbatch 0", "node 0");
  }

  @Test
  void overlapMemoryAndMakespanAreNamed() {
    // Move microbatch 1's first forward onto microbatch 0's first forward on data node 0.
    assertNames(checkEdited(s -> {
      Span a = find(s, 0, Span.Kind.FWD, 0);
      Span b = find(s, 1, Span.Kind.FWD, 0);
      s.set(s.indexOf(b), new Span(0, 0, 1, Span.Kind.FWD, a.startMicros(), a.endMicros()));
      return s;
    }), Kind.OVERLAP, "at node 0");
    Plan p = base();
    List<Node> small = new ArrayList<>();
    for (Node x : p.cluster().nodes()) {
      small.add(new Node(x.id(), x.location(), x.speed(), 1));
    }
    ClusterProfile c = p.cluster();
    ClusterProfile tight = new ClusterProfile(c.name(), c.description(), small, c.stageSizes(),
        c.links(), c.defaultLink(), c.hopOverheadSeconds(), c.computeSecondsPerSampleLayer(),
        false);
    Plan tightPlan = new Plan(p.format(), p.method(), p.seed(), tight, p.model(),
        p.constraints(), p.stages(), p.microbatches(), null);
    // Spans simulated with memory 3: data node 0 holds microbatches 0 and 1 at once.
    assertNames(ScheduleValidator.check(tightPlan, Simulator.run(p).spans()), Kind.MEMORY,
        "at node 0", "memory is 1");
    Plan wrong = p.withPredicted(new Plan.Predicted(1.0, 1.0, null));
    assertNames(ScheduleValidator.check(wrong, Simulator.run(p).spans()), Kind.MAKESPAN,
        "reports a pipeline of 1.0 s");
  }

  @Test
  void everyKindHasAnInjectionAbove() {
    assertEquals(19, Kind.values().length, "add an injection test for a new kind");
  }

  private static Span find(List<Span> s, int mb, Span.Kind kind, int node) {
    return s.stream().filter(x -> x.microbatch() == mb && x.kind() == kind && x.node() == node)
        .findFirst().orElseThrow();
  }

  private static List<Span> replace(List<Span> s, int mb, Span.Kind kind, int node, long dStart,
      long dEnd) {
    Span a = find(s, mb, kind, node);
    s.set(s.indexOf(a), new Span(a.node(), a.stage(), a.microbatch(), a.kind(),
        a.startMicros() + dStart, a.endMicros() + dEnd));
    return s;
  }
}
