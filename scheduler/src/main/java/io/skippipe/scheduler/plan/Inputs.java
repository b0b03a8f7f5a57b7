package io.skippipe.scheduler.plan;

import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.route.RouteConfig;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Checks planner input for user errors and resolves defaults into {@link Constraints}; every
 * error names the value, the rule and the fix.
 */
final class Inputs {
  private Inputs() {}

  /** Validates the combination of profile, model and config; returns the resolved limits. */
  static Constraints check(ClusterProfile profile, ModelSpec model, PlannerConfig cfg) {
    int k = profile.stageCount();
    if (model.stages() != k) {
      throw PlanningException.of("model " + model.name() + " (" + model.layers() + " layers / "
              + model.layersPerStage() + " per stage = " + model.stages() + " stages) on cluster "
              + profile.name() + " (stageSizes " + profile.stageSizes() + " = " + k + " stages)",
          "the model's layers/layersPerStage must equal the cluster's number of stages",
          "pick a model with " + k + " stages, change layersPerStage, or change stageSizes");
    }
    if (k > 32) {
      throw PlanningException.of("stageSizes " + profile.stageSizes() + " (" + k + " stages)",
          "at most 32 stages are supported", "use fewer, larger stages");
    }
    if (cfg.stages() != null) {
      checkStages(profile, cfg.stages());
    }
    PlannerConfig.Limits lim = cfg.limits();
    // Stages with no live node (all replicas lost) are skipped by every path: ℓ shrinks to the
    // number of stages left when it exceeds it.
    int liveStages = (int) profile.stageSizes().stream().filter(x -> x > 0).count();
    int pathLength = Math.min(pathLength(k, lim), liveStages);
    int memory = lim.memory() != null ? lim.memory()
        : profile.nodes().stream().filter(x -> !x.lost())
            .mapToInt(x -> model.microbatchesHeld(x.memoryMicrobatches())).min().orElseThrow();
    int smallest = profile.stageSizes().stream().skip(1).mapToInt(Integer::intValue)
        .filter(x -> x > 0).min().orElse(profile.stageSizes().get(0));
    int stageCap = lim.stageCap() != null ? lim.stageCap() : smallest * Math.max(memory, 1);
    return new Constraints(pathLength, lim.maxSwaps(), lim.maxSwapDistance(), lim.maxJump(),
        memory, stageCap);
  }

  /** ℓ from the skip ratio or path length, or the default {@link
   * PlannerConfig.Limits#defaultPathLength}. */
  static int pathLength(int k, PlannerConfig.Limits cfg) {
    if (cfg.pathLength() != null) {
      int l = cfg.pathLength();
      if (l < 1 || l > k) {
        throw PlanningException.of("path length " + l, "a path visits between 1 and " + k
            + " stages (the cluster has " + k + ")", "use --path-length 1.." + k);
      }
      return l;
    }
    if (cfg.skipRatio() != null) {
      double ratio = cfg.skipRatio();
      int l = (int) Math.round((1 - ratio) * k);
      double achieved = 1 - (double) l / k;
      if (l < 1 || Math.abs(achieved - ratio) > 0.01) {
        List<String> options = new ArrayList<>();
        for (int q = k; q >= 1; q--) {
          options.add(String.format(Locale.ROOT, "%.4f (path length %d)", 1 - (double) q / k, q));
        }
        throw PlanningException.of("skip ratio " + ratio, "no path length meets it with " + k
                + " stages: k = 1 - pathLength/" + k + " must be within 0.01 of the request",
            "use one of " + options);
      }
      return l;
    }
    return PlannerConfig.Limits.defaultPathLength(k);
  }

  /** The router settings: how many agents (path slots) each data node gets. */
  static RouteConfig routeConfig(ClusterProfile profile, ModelSpec model, PlannerConfig cfg,
      Constraints limits, List<List<Integer>> stages) {
    int m = model.microbatchesPerDataNode();
    int dataNodes = stages.get(0).size();
    long capacity = 0;
    for (int s = 1; s < stages.size(); s++) {
      long stageMemory = 0;
      for (int x : stages.get(s)) {
        stageMemory += Math.min(limits.memory(),
            model.microbatchesHeld(profile.nodes().get(x).memoryMicrobatches()));
      }
      capacity += Math.min(limits.stageCap(), stageMemory);
    }
    // As many path slots as the caps hold, at most min(memory, M) per data node, spread evenly
    // (the first data nodes get one more when they cannot all have the same).
    long perPath = limits.pathLength() - 1;
    long total = (long) dataNodes * Math.min(limits.memory(), m);
    while (total > 0 && total * perPath > capacity) {
      total--;
    }
    int[] slots = new int[dataNodes];
    for (int i = 0; i < dataNodes; i++) {
      slots[i] = (int) (total / dataNodes + (i < total % dataNodes ? 1 : 0));
    }
    int least = java.util.Arrays.stream(slots).min().orElse(0);
    if (least == 0 && !Methods.isFullPipeline(cfg.method())) {
      throw PlanningException.of("memory " + limits.memory() + " and stageCap "
              + limits.stageCap() + " with path length " + limits.pathLength() + " and "
              + dataNodes + " data nodes", "memory too small for any plan: even one path per "
              + "data node needs " + (long) dataNodes * (limits.pathLength() - 1)
              + " visits of non-data stages, the caps allow " + capacity,
          "raise memory / stageCap, use a shorter path (higher skip ratio) or more nodes per"
              + " stage");
    }
    List<Integer> slotList = new ArrayList<>();
    for (int x : slots) {
      slotList.add(Math.max(x, 1));
    }
    return new RouteConfig(limits, m, slotList, cfg.routing().cbsMaxNodes(),
        cfg.routing().cbsGoals(), cfg.routing().cbsBranching());
  }

  /** The limits recorded in the plan: the full pipeline visits all K stages without swaps. */
  static Constraints limitsOf(String method, Constraints limits, List<List<Integer>> stages) {
    if (!Methods.isFullPipeline(method)) {
      return limits;
    }
    int live = (int) stages.stream().filter(s -> !s.isEmpty()).count();
    int jump = 1;
    for (int s = 1, prev = 0; s < stages.size(); s++) {
      if (!stages.get(s).isEmpty()) {
        jump = Math.max(jump, s - prev);
        prev = s;
      }
    }
    return new Constraints(live, 0, 0, Math.max(jump, limits.maxJump()), limits.memory(),
        limits.stageCap());
  }

  private static void checkStages(ClusterProfile profile, List<List<Integer>> stages) {
    int n = profile.size();
    if (stages.size() != profile.stageCount()) {
      throw PlanningException.of("stages " + stages, "must list " + profile.stageCount()
          + " stages (the cluster's stageSizes " + profile.stageSizes() + ")",
          "give one node list per stage");
    }
    Set<Integer> seen = new HashSet<>();
    int live = profile.liveNodes().size();
    for (int s = 0; s < stages.size(); s++) {
      if (stages.get(s).size() != profile.stageSizes().get(s)) {
        throw PlanningException.of("stages " + stages + " (stage " + s + " has "
                + stages.get(s).size() + " nodes)", "stage sizes must match the cluster's "
                + "stageSizes " + profile.stageSizes(),
            "give stage " + s + " exactly " + profile.stageSizes().get(s) + " nodes");
      }
      for (int x : stages.get(s)) {
        if (x < 0 || x >= n || !seen.add(x)) {
          throw PlanningException.of("stages " + stages + " (node " + x + ")",
              "every node 0.." + (n - 1) + " must appear in exactly one stage",
              "list each node once");
        }
        if (!profile.isLive(x)) {
          throw PlanningException.of("stages " + stages + " (node " + x + ")",
              "node " + x + " is marked lost in cluster " + profile.name(),
              "list only the " + live + " live nodes " + profile.liveNodes());
        }
      }
    }
  }
}
