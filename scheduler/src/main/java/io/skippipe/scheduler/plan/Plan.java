package io.skippipe.scheduler.plan;

import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.route.Microbatch;
import io.skippipe.scheduler.route.Path;
import io.skippipe.scheduler.route.Schedule;
import java.util.ArrayList;
import java.util.List;

/**
 * A plan as in plan.json (DESIGN.md §5.2, {@code "format": "skippipe-plan/1"}): which node serves
 * which stage ({@code stages}: index = stage, position inside = pipeline) and the path of every
 * microbatch of one iteration. {@code predicted} is null in a plan that only gives the schedule.
 */
public record Plan(
    String format,
    String method,
    long seed,
    ClusterProfile cluster,
    ModelSpec model,
    Constraints constraints,
    List<List<Integer>> stages,
    List<PlannedMicrobatch> microbatches,
    Predicted predicted) {

  public static final String FORMAT = "skippipe-plan/1";

  /**
   * What the simulator predicts: the whole iteration (pipeline, stage all-reduce, scalar exchange,
   * optimizer step) and its pipeline phase (the paper's metric). planSeconds is null in written
   * plans (keeps bytes stable).
   */
  public record Predicted(double iterationSeconds, double pipelineSeconds, Double planSeconds) {}

  public Plan {
    stages = stages.stream().map(List::copyOf).toList();
    microbatches = List.copyOf(microbatches);
  }

  /** The stage of a node, or -1 when no stage lists it. */
  public int stageOf(int node) {
    for (int s = 0; s < stages.size(); s++) {
      if (stages.get(s).contains(node)) {
        return s;
      }
    }
    return -1;
  }

  /** The microbatches injected at a data node, in id order. */
  public List<PlannedMicrobatch> microbatchesOf(int dataNode) {
    return microbatches.stream().filter(m -> m.dataNode() == dataNode)
        .sorted((a, b) -> Integer.compare(a.id(), b.id())).toList();
  }

  /** The microbatches whose path visits a node (the work that node does), in id order. */
  public List<PlannedMicrobatch> microbatchesThrough(int node) {
    return microbatches.stream().filter(m -> m.path().contains(node))
        .sorted((a, b) -> Integer.compare(a.id(), b.id())).toList();
  }

  /** The data nodes (stage 0). */
  public List<Integer> dataNodes() {
    return stages.get(0);
  }

  /** The nodes of the same stage as {@code node} (its data-parallel group), itself included. */
  public List<Integer> replicasOf(int node) {
    int s = stageOf(node);
    return s < 0 ? List.of() : stages.get(s);
  }

  /** Number of nodes. */
  public int nodeCount() {
    return cluster.size();
  }

  /** The predicted whole-iteration time, or NaN when the plan carries none. */
  public double iterationSeconds() {
    return predicted == null ? Double.NaN : predicted.iterationSeconds();
  }

  /** The predicted pipeline phase (the paper's metric), or NaN when the plan carries none. */
  public double pipelineSeconds() {
    return predicted == null ? Double.NaN : predicted.pipelineSeconds();
  }

  /**
   * Non-data stages without a live node (all replicas lost): every path skips them, so paths may
   * be shorter than requested (SkipPipe's fallback).
   */
  public List<Integer> skippedStages() {
    List<Integer> out = new ArrayList<>();
    for (int s = 1; s < stages.size(); s++) {
      if (stages.get(s).isEmpty()) {
        out.add(s);
      }
    }
    return out;
  }

  /** The live nodes the plan uses (listed in some stage), ascending. */
  public List<Integer> liveNodes() {
    return stages.stream().flatMap(List::stream).sorted().toList();
  }

  /** The schedule the simulator runs. Paths must be structurally valid (validate first). */
  public Schedule toSchedule() {
    List<Microbatch> mbs = new ArrayList<>();
    for (PlannedMicrobatch m : microbatches) {
      mbs.add(new Microbatch(m.id(), m.dataNode(), Math.round(m.releaseSeconds() * 1e6),
          new Path(m.path())));
    }
    return new Schedule(stages, mbs);
  }

  /** This plan with another prediction. */
  public Plan withPredicted(Predicted p) {
    return new Plan(format, method, seed, cluster, model, constraints, stages, microbatches, p);
  }
}
