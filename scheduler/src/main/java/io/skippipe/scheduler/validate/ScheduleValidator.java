package io.skippipe.scheduler.validate;

import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.validate.Violation.Kind;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks a plan and its timeline against every rule, sharing no code with the solver or the
 * simulator (habit 9 of STYLE.md): it recomputes durations and hop times from the plan's own
 * cluster and model, so a bug in the cost model, the router or the simulator shows up here.
 *
 * <p>Hard rules (a violation makes the plan invalid): structure (stages partition the live
 * nodes per stageSizes, lost nodes in no stage and on no path, dataNodes × M microbatches with
 * unique ids); CC: start at the own data node in stage 0, exactly pathLength stages, no stage
 * twice, at most maxSwaps swaps each at most maxSwapDistance back, hops at most maxJump from the
 * frontier; timeline: every task present in order with the right duration, after its input
 * arrived, after the release; one task per node at a time; activations held never above node
 * memory (memory feasibility); reported pipeline time equal to the compute makespan and the
 * reported iteration no shorter than any span; each stage all-reduce after its replica's pipeline
 * work and no shorter than the ring's bound.
 *
 * <p>Throughput caps (TC1 on distinct paths: per non-data stage at most stageCap, per non-data
 * node at most memory) are the planner's objectives: exceeding them is a warning (see {@link
 * ValidationReport}).
 */
public final class ScheduleValidator {
  private static final long TOLERANCE_MICROS = 1;

  private ScheduleValidator() {}

  /** Checks paths, caps and the timeline. */
  public static ValidationReport check(Plan plan, List<Span> timeline) {
    ValidationReport paths = checkPaths(plan);
    List<Violation> out = new ArrayList<>(paths.violations());
    out.addAll(paths.warnings());
    if (out.stream().noneMatch(v -> v.kind() == Kind.UNKNOWN_NODE || v.kind() == Kind.STAGES
        || v.kind() == Kind.PATH_START)) {
      checkTimeline(plan, timeline, out);
    }
    return ValidationReport.of(out);
  }

  /** Checks only what does not need a timeline: stages, microbatch set, CC and TC1. */
  public static ValidationReport checkPaths(Plan plan) {
    List<Violation> out = new ArrayList<>();
    ClusterProfile cluster = plan.cluster();
    int n = cluster.size();
    int[] stageOf = new int[n];
    java.util.Arrays.fill(stageOf, -1);
    List<List<Integer>> stages = plan.stages();
    if (stages.size() != cluster.stageSizes().size()) {
      out.add(new Violation(Kind.STAGES, -1, -1, Double.NaN, "plan has " + stages.size()
          + " stages, the cluster's stageSizes " + cluster.stageSizes()));
    }
    if (stages.size() != plan.model().layers() / plan.model().layersPerStage()) {
      out.add(new Violation(Kind.STAGES, -1, -1, Double.NaN, "plan has " + stages.size()
          + " stages but model " + plan.model().name() + " splits into "
          + plan.model().layers() / plan.model().layersPerStage()));
    }
    for (int s = 0; s < stages.size(); s++) {
      if (s < cluster.stageSizes().size() && stages.get(s).size() != cluster.stageSizes().get(s)) {
        out.add(new Violation(Kind.STAGES, -1, -1, Double.NaN, "stage " + s + " has "
            + stages.get(s).size() + " nodes, stageSizes says " + cluster.stageSizes().get(s)));
      }
      for (int x : stages.get(s)) {
        if (x < 0 || x >= n) {
          out.add(new Violation(Kind.STAGES, -1, x, Double.NaN, "stage " + s
              + " lists node " + x + " which does not exist (0.." + (n - 1) + ")"));
        } else if (cluster.nodes().get(x).lost()) {
          out.add(new Violation(Kind.STAGES, -1, x, Double.NaN, "stage " + s
              + " lists node " + x + " which is marked lost"));
        } else if (stageOf[x] >= 0) {
          out.add(new Violation(Kind.STAGES, -1, x, Double.NaN, "node " + x + " is in stage "
              + stageOf[x] + " and stage " + s));
        } else {
          stageOf[x] = s;
        }
      }
    }
    for (int x = 0; x < n; x++) {
      if (stageOf[x] < 0 && !cluster.nodes().get(x).lost()) {
        out.add(new Violation(Kind.STAGES, -1, x, Double.NaN, "node " + x + " is in no stage"));
      }
    }
    if (stages.isEmpty() || stages.get(0).isEmpty()) {
      out.add(new Violation(Kind.STAGES, -1, -1, Double.NaN, "stage 0 has no data node"));
    }
    if (out.stream().anyMatch(v -> v.kind() == Kind.STAGES)) {
      return ValidationReport.of(out);
    }
    // Fair comparison: dataNodes x microbatchesPerDataNode microbatches, unique ids.
    int expected = stages.get(0).size() * plan.model().microbatchesPerDataNode();
    if (plan.microbatches().size() != expected) {
      out.add(new Violation(Kind.MICROBATCHES, -1, -1, Double.NaN, "plan has "
          + plan.microbatches().size() + " microbatches, every method must process " + expected
          + " (data nodes x microbatchesPerDataNode)"));
    }
    Set<Integer> ids = new HashSet<>();
    for (PlannedMicrobatch m : plan.microbatches()) {
      if (!ids.add(m.id())) {
        out.add(new Violation(Kind.MICROBATCHES, m.id(), -1, Double.NaN, "duplicate id"));
      }
    }
    Constraints c = plan.constraints();
    Map<Integer, Set<List<Integer>>> pathsPerStage = new HashMap<>();
    Map<Integer, Set<List<Integer>>> pathsPerNode = new HashMap<>();
    for (PlannedMicrobatch m : plan.microbatches()) {
      List<Integer> p = m.path();
      if (p.isEmpty() || p.get(0) != m.dataNode()) {
        out.add(new Violation(Kind.PATH_START, m.id(), m.dataNode(), Double.NaN, "path " + p
            + " must start at its data node " + m.dataNode()));
        continue;
      }
      boolean known = true;
      for (int x : p) {
        if (x < 0 || x >= n) {
          out.add(new Violation(Kind.UNKNOWN_NODE, m.id(), x, Double.NaN, "path " + p
              + " names node " + x + ", nodes are 0.." + (n - 1)));
          known = false;
        } else if (cluster.nodes().get(x).lost()) {
          out.add(new Violation(Kind.UNKNOWN_NODE, m.id(), x, Double.NaN, "path " + p
              + " names node " + x + ", which is marked lost"));
          known = false;
        }
      }
      if (!known) {
        continue;
      }
      if (stageOf[m.dataNode()] != 0) {
        out.add(new Violation(Kind.PATH_START, m.id(), m.dataNode(), Double.NaN, "data node "
            + m.dataNode() + " is in stage " + stageOf[m.dataNode()] + ", not stage 0"));
        continue;
      }
      if (p.size() != c.pathLength()) {
        out.add(new Violation(Kind.PATH_LENGTH, m.id(), -1, Double.NaN, "path " + p + " visits "
            + p.size() + " stages, pathLength is " + c.pathLength()));
      }
      boolean[] seen = new boolean[stages.size()];
      int frontier = 0;
      int swaps = 0;
      seen[0] = true;
      for (int i = 1; i < p.size(); i++) {
        int x = p.get(i);
        int s = stageOf[x];
        if (seen[s]) {
          out.add(new Violation(Kind.STAGE_REPEAT, m.id(), x, Double.NaN, "path " + p
              + " visits stage " + s + " twice"));
          continue;
        }
        seen[s] = true;
        if (Math.abs(s - frontier) > c.maxJump()) {
          out.add(new Violation(Kind.JUMP_LIMIT, m.id(), x, Double.NaN, "path " + p
              + " moves from frontier stage " + frontier + " to stage " + s + ", maxJump is "
              + c.maxJump()));
        }
        if (s < frontier) {
          swaps++;
          if (frontier - s > c.maxSwapDistance()) {
            out.add(new Violation(Kind.SWAP_DISTANCE, m.id(), x, Double.NaN, "path " + p
                + " goes back " + (frontier - s) + " stages, maxSwapDistance is "
                + c.maxSwapDistance()));
          }
        } else {
          frontier = s;
        }
        pathsPerStage.computeIfAbsent(s, k -> new HashSet<>()).add(p);
        pathsPerNode.computeIfAbsent(x, k -> new HashSet<>()).add(p);
      }
      if (swaps > c.maxSwaps()) {
        out.add(new Violation(Kind.SWAP_LIMIT, m.id(), -1, Double.NaN, "path " + p + " swaps "
            + swaps + " times, maxSwaps is " + c.maxSwaps()));
      }
    }
    pathsPerStage.forEach((s, ps) -> {
      if (ps.size() > c.stageCap()) {
        out.add(new Violation(Kind.STAGE_CAP, -1, -1, Double.NaN, ps.size()
            + " distinct paths visit stage " + s + ", stageCap is " + c.stageCap()));
      }
    });
    pathsPerNode.forEach((x, ps) -> {
      if (ps.size() > c.memory()) {
        out.add(new Violation(Kind.NODE_CAP, -1, x, Double.NaN, ps.size()
            + " distinct paths visit node " + x + ", memory (TC1-b) is " + c.memory()));
      }
    });
    return ValidationReport.of(out);
  }

  private static void checkTimeline(Plan plan, List<Span> timeline, List<Violation> out) {
    ClusterProfile cluster = plan.cluster();
    // Independent recomputation of the cost model (DESIGN.md §4).
    double wBase = cluster.computeSecondsPerSampleLayer() * plan.model().layersPerStage()
        * plan.model().samplesPerMicrobatch();
    double bytes = (double) plan.model().activationBytesPerElement() * plan.model().dim()
        * plan.model().seqLen() * plan.model().samplesPerMicrobatch();
    Map<Integer, List<Span>> byMb = new HashMap<>();
    List<Span> compute = new ArrayList<>();
    for (Span s : timeline) {
      if (s.kind() == Span.Kind.FWD || s.kind() == Span.Kind.BWD || s.kind() == Span.Kind.LOSS) {
        byMb.computeIfAbsent(s.microbatch(), k -> new ArrayList<>()).add(s);
        compute.add(s);
      }
    }
    long makespan = 0;
    for (PlannedMicrobatch m : plan.microbatches()) {
      List<Integer> p = m.path();
      List<Span> spans = new ArrayList<>(byMb.getOrDefault(m.id(), List.of()));
      spans.sort(Comparator.comparingLong(Span::startMicros));
      int l = p.size();
      if (spans.size() != 2 * l + 1) {
        out.add(new Violation(Kind.MISSING_TASK, m.id(), -1, Double.NaN, "timeline has "
            + spans.size() + " compute tasks, path " + p + " needs " + (2 * l + 1)));
        continue;
      }
      long prevEnd = -1;
      int prevNode = -1;
      for (int t = 0; t < spans.size(); t++) {
        int node = t < l ? p.get(t) : t == l ? p.get(0) : p.get(2 * l - t);
        Span.Kind kind = t < l ? Span.Kind.FWD : t == l ? Span.Kind.LOSS : Span.Kind.BWD;
        Span s = spans.get(t);
        if (s.node() != node || s.kind() != kind) {
          out.add(new Violation(Kind.MISSING_TASK, m.id(), s.node(), s.startMicros() / 1e6,
              "task " + t + " should be " + kind + " on node " + node + ", found " + s.kind()
                  + " on node " + s.node()));
          break;
        }
        Node nd = cluster.nodes().get(node);
        double w = wBase / nd.speed();
        // backward 1.5 w, plus the recomputed forward w under activation checkpointing
        double bwd = (plan.model().activationCheckpointing() ? 2.5 : 1.5) * w;
        double dur = kind == Span.Kind.FWD ? w : kind == Span.Kind.BWD ? bwd : w / 4.0;
        if (Math.abs(s.durationMicros() - dur * 1e6) > TOLERANCE_MICROS + 0.5) {
          out.add(new Violation(Kind.DURATION, m.id(), node, s.startMicros() / 1e6, kind
              + " lasts " + s.durationMicros() + " us, the cost model says "
              + Math.round(dur * 1e6) + " us"));
        }
        if (t == 0 && s.startMicros() < Math.round(m.releaseSeconds() * 1e6) - TOLERANCE_MICROS) {
          out.add(new Violation(Kind.RELEASE, m.id(), node, s.startMicros() / 1e6,
              "starts before its release at " + m.releaseSeconds() + " s"));
        }
        if (t > 0) {
          double hop = 0;
          if (prevNode != node) {
            var a = cluster.nodes().get(prevNode);
            var link = cluster.link(a.location(), nd.location());
            hop = link.latencyMs() / 1000.0 + bytes / (link.bandwidthGBps() * 1073741824.0)
                + cluster.hopOverheadSeconds();
          }
          if (s.startMicros() + TOLERANCE_MICROS + 0.5 < prevEnd + hop * 1e6) {
            out.add(new Violation(Kind.DEPENDENCY, m.id(), node, s.startMicros() / 1e6, kind
                + " starts at " + s.startMicros() + " us but its input from node " + prevNode
                + " arrives at " + Math.round(prevEnd + hop * 1e6) + " us"));
          }
        }
        prevEnd = s.endMicros();
        prevNode = node;
      }
      makespan = Math.max(makespan, spans.get(spans.size() - 1).endMicros());
    }
    // One task per node at a time, and the memory cap.
    Map<Integer, List<Span>> byNode = new HashMap<>();
    for (Span s : compute) {
      byNode.computeIfAbsent(s.node(), k -> new ArrayList<>()).add(s);
    }
    for (Map.Entry<Integer, List<Span>> e : byNode.entrySet()) {
      int node = e.getKey();
      List<Span> spans = e.getValue();
      spans.sort(Comparator.comparingLong(Span::startMicros));
      for (int i = 1; i < spans.size(); i++) {
        Span a = spans.get(i - 1);
        Span b = spans.get(i);
        if (b.startMicros() < a.endMicros()) {
          out.add(new Violation(Kind.OVERLAP, b.microbatch(), node, b.startMicros() / 1e6,
              b.kind() + " of microbatch " + b.microbatch() + " overlaps " + a.kind()
                  + " of microbatch " + a.microbatch() + " (ends " + a.endMicros() + " us)"));
        }
      }
      if (node < 0 || node >= cluster.size()) {
        continue;
      }
      // +1 at each forward start, -1 at each backward end; releases before takes at one instant.
      List<long[]> deltas = new ArrayList<>();
      for (Span s : spans) {
        if (s.kind() == Span.Kind.FWD) {
          deltas.add(new long[] {s.startMicros(), 1, s.microbatch()});
        } else if (s.kind() == Span.Kind.BWD) {
          deltas.add(new long[] {s.endMicros(), -1, s.microbatch()});
        }
      }
      deltas.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
      int held = 0;
      int cap = plan.model().microbatchesHeld(cluster.nodes().get(node).memoryMicrobatches());
      for (long[] d : deltas) {
        held += (int) d[1];
        if (held > cap) {
          out.add(new Violation(Kind.MEMORY, (int) d[2], node, d[0] / 1e6, "holds " + held
              + " activations, memory is " + cap));
          break;
        }
      }
    }
    checkAllReduce(plan, timeline, out);
    if (plan.predicted() != null && !Double.isNaN(plan.predicted().pipelineSeconds())) {
      long reported = Math.round(plan.predicted().pipelineSeconds() * 1e6);
      if (Math.abs(reported - makespan) > TOLERANCE_MICROS) {
        out.add(new Violation(Kind.MAKESPAN, -1, -1, makespan / 1e6, "plan reports a pipeline of "
            + plan.predicted().pipelineSeconds() + " s, the compute timeline ends at "
            + makespan / 1e6 + " s"));
      }
    }
    if (plan.predicted() != null && !Double.isNaN(plan.predicted().iterationSeconds())) {
      long last = timeline.stream().mapToLong(Span::endMicros).max().orElse(0);
      long reported = Math.round(plan.predicted().iterationSeconds() * 1e6);
      if (reported + TOLERANCE_MICROS < Math.max(last, makespan)) {
        out.add(new Violation(Kind.MAKESPAN, -1, -1, last / 1e6, "plan reports an iteration of "
            + plan.predicted().iterationSeconds() + " s, the timeline ends at "
            + Math.max(last, makespan) / 1e6 + " s"));
      }
    }
  }

  /**
   * Stage all-reduce spans (when the timeline has any): each starts no earlier than its replica's
   * last compute task ends, and lasts at least the ring's bound — n ring steps, each at least the
   * cheapest link of the ring's latency + hop overhead + (gradient/n)/bandwidth, the gradient
   * being 4 bytes per parameter of the stage, recounted here from the model's shape.
   */
  private static void checkAllReduce(Plan plan, List<Span> timeline, List<Violation> out) {
    if (timeline.stream().noneMatch(s -> s.kind() == Span.Kind.ALLREDUCE)) {
      return;
    }
    ClusterProfile cluster = plan.cluster();
    var m = plan.model();
    long d = m.dim();
    long hd = d / m.heads();
    long layer = 2 * d + 2 * d * m.heads() * hd + 2 * d * m.kvHeads() * hd + 3 * d * m.ffnDim();
    Map<Integer, Long> lastCompute = new HashMap<>();
    Map<Integer, Span> reduce = new HashMap<>();
    for (Span s : timeline) {
      if (s.isCompute()) {
        lastCompute.merge(s.node(), s.endMicros(), Math::max);
      } else if (s.kind() == Span.Kind.ALLREDUCE) {
        reduce.put(s.node(), s);
      }
    }
    for (int st = 0; st < plan.stages().size(); st++) {
      List<Integer> ring = plan.stages().get(st);
      int n = ring.size();
      if (n < 2) {
        continue;
      }
      long params = m.layersPerStage() * layer + (st == 0 ? 2L * m.vocab() * d + d : 0);
      double bytes = m.gradientBytesPerStage() != null ? m.gradientBytesPerStage().get(st)
          : 4.0 * params;
      double segment = bytes / n;
      double cheapest = Double.POSITIVE_INFINITY;
      for (int r = 0; r < n; r++) {
        Node a = cluster.nodes().get(ring.get(r));
        Node b = cluster.nodes().get(ring.get((r + 1) % n));
        var link = cluster.link(a.location(), b.location());
        cheapest = Math.min(cheapest, link.latencyMs() / 1000.0 + cluster.hopOverheadSeconds()
            + Math.floor(segment / 4) * 4 / (link.bandwidthGBps() * 1073741824.0));
      }
      // Replica r's step k needs its predecessor's step k−1, which needs r's own step k−n
      // (around the ring), so its last step (2n−2 ≥ n) ends ≥ n cheapest links after its start —
      // whatever the other replicas' start times (2(n−1) links when all start together).
      long bound = (long) Math.floor(n * cheapest * 1e6) - 2L * n;
      for (int x : ring) {
        Span s = reduce.get(x);
        if (s == null) {
          out.add(new Violation(Kind.ALLREDUCE, -1, x, Double.NaN, "no all-reduce span for"
              + " node " + x + " of stage " + st + " (" + n + " replicas)"));
        } else if (s.startMicros() + TOLERANCE_MICROS < lastCompute.getOrDefault(x, 0L)) {
          out.add(new Violation(Kind.ALLREDUCE, -1, x, s.startMicros() / 1e6, "all-reduce starts"
              + " before node " + x + "'s last compute task ends at "
              + lastCompute.get(x) / 1e6 + " s"));
        } else if (s.durationMicros() < bound) {
          out.add(new Violation(Kind.ALLREDUCE, -1, x, s.startMicros() / 1e6, "all-reduce of "
              + "stage " + st + " lasts " + s.durationMicros() + " us, the ring of " + n
              + " replicas needs at least " + bound + " us"));
        }
      }
    }
  }
}
