package io.skippipe.scheduler.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/**
 * The inputs and tuning flags shared by {@code plan} and {@code compare} (a picocli mixin). Every
 * default is {@link PlannerConfig#defaults}'s, shown in {@code --help}; {@link #config} turns the
 * flags into the validated {@link PlannerConfig}.
 */
public final class PlannerOptions {
  private static final PlannerConfig D = PlannerConfig.defaults("skippipe");

  @Option(names = "--cluster", required = true, paramLabel = "C", order = 1,
      description = "Cluster profile: a preset name (conf/clusters/) or a JSON file.")
  String cluster;

  @Option(names = "--model", required = true, paramLabel = "M", order = 2,
      description = "Model spec: a preset name (conf/models/) or a JSON file.")
  String model;

  @ArgGroup(exclusive = true, order = 3)
  PathLength pathLength; // null when neither flag is given

  /** How many stages a microbatch visits: a skip ratio or a path length, not both. */
  static final class PathLength {
    @Option(names = "--skip-ratio", paramLabel = "K", order = 3,
        description = "Fraction of stages each microbatch skips, in [0, 1) (k = 1 - L/stages).")
    Double skipRatio;

    @Option(names = "--path-length", paramLabel = "L", order = 4,
        description = "Stages each microbatch visits, stage 0 included "
            + "(default: stages - ceil(stages/4)).")
    Integer pathLength;
  }

  @Option(names = "--seed", paramLabel = "N", order = 5,
      description = "Seeds every random choice (default: ${DEFAULT-VALUE}).")
  long seed = D.seed();

  @Option(names = "--stages", paramLabel = "JSON", order = 6,
      description = "A fixed allocation, e.g. '[[0,1],[2,3],[4,5]]' (node ids per stage); skips "
          + "the allocator.")
  String stages;

  @Option(names = "--allocator", paramLabel = "A", order = 20,
      description = "Stage allocation: one of " + "auto, skip-aware, genetic, dtfm, in-order"
          + " (default: ${DEFAULT-VALUE}: skip-aware for skipping methods, GCMA for dtfm).")
  String allocator = D.allocation().allocator();

  @Option(names = "--gcma-population", paramLabel = "N", order = 21,
      description = "GCMA population (default: ${DEFAULT-VALUE}).")
  int gcmaPopulation = D.allocation().gcmaPopulation();

  @Option(names = "--gcma-trials", paramLabel = "N", order = 22,
      description = "GCMA offspring evaluated (default: ${DEFAULT-VALUE}).")
  int gcmaTrials = D.allocation().gcmaTrials();

  @Option(names = "--allocation-evaluations", paramLabel = "N", order = 23,
      description = "Skip-aware allocation search: simulated candidates; 0 keeps GCMA's stages"
          + " (default: ${DEFAULT-VALUE}).")
  int allocationEvaluations = D.allocation().evaluations();

  @Option(names = "--allocation-objective", paramLabel = "iteration|pipeline", order = 24,
      description = "What the allocation search minimises (default: ${DEFAULT-VALUE}).")
  String allocationObjective = D.allocation().objective();

  @Option(names = "--max-swaps", paramLabel = "N", order = 25,
      description = "Swaps per path (default: ${DEFAULT-VALUE}).")
  int maxSwaps = D.limits().maxSwaps();

  @Option(names = "--max-swap-distance", paramLabel = "N", order = 26,
      description = "Stages one swap may go back (default: ${DEFAULT-VALUE}).")
  int maxSwapDistance = D.limits().maxSwapDistance();

  @Option(names = "--max-jump", paramLabel = "N", order = 27,
      description = "Stages one hop may move forward (default: ${DEFAULT-VALUE}).")
  int maxJump = D.limits().maxJump();

  @Option(names = "--memory", paramLabel = "N", order = 28,
      description = "Microbatch activations a node may hold (default: the smallest node memory).")
  Integer memory;

  @Option(names = "--stage-cap", paramLabel = "N", order = 29,
      description = "Microbatches one stage may serve per iteration "
          + "(default: smallest non-data stage x memory).")
  Integer stageCap;

  @Option(names = "--cbs-max-nodes", paramLabel = "N", order = 30,
      description = "CBS constraint-tree nodes expanded at most (default: ${DEFAULT-VALUE}).")
  int cbsMaxNodes = D.routing().cbsMaxNodes();

  @Option(names = "--cbs-goals", paramLabel = "N", order = 31,
      description = "Collision-free CBS nodes after which the search stops "
          + "(default: ${DEFAULT-VALUE}).")
  int cbsGoals = D.routing().cbsGoals();

  @Option(names = "--cbs-branching", paramLabel = "N", order = 32,
      description = "Children per stage-cap conflict (default: ${DEFAULT-VALUE}).")
  int cbsBranching = D.routing().cbsBranching();

  ClusterProfile cluster() {
    return Presets.cluster(cluster);
  }

  ModelSpec model() {
    return Presets.model(model);
  }

  /** The validated planner configuration for {@code method}. */
  PlannerConfig config(String method) {
    return new PlannerConfig(method, seed,
        new PlannerConfig.Allocation(allocator, stages == null ? null : stages(stages),
            gcmaPopulation, gcmaTrials, allocationEvaluations, allocationObjective),
        new PlannerConfig.Routing(cbsMaxNodes, cbsGoals, cbsBranching),
        new PlannerConfig.Limits(pathLength == null ? null : pathLength.skipRatio,
            pathLength == null ? null : pathLength.pathLength, maxSwaps, maxSwapDistance,
            maxJump, memory, stageCap));
  }

  private static List<List<Integer>> stages(String json) {
    try {
      JsonNode j = new ObjectMapper().readTree(json);
      List<List<Integer>> out = new ArrayList<>();
      for (JsonNode s : j) {
        if (!s.isArray()) {
          throw new IOException("not a list of lists");
        }
        List<Integer> st = new ArrayList<>();
        for (JsonNode x : s) {
          if (!x.isIntegralNumber()) {
            throw new IOException("node id " + x + " is not an integer");
          }
          st.add(x.asInt());
        }
        out.add(st);
      }
      if (!j.isArray() || out.isEmpty()) {
        throw new IOException("empty");
      }
      return out;
    } catch (IOException e) {
      throw PlanningException.of("--stages " + json, "must be a JSON list of node-id lists ("
          + e.getMessage().split("\n")[0] + ")", "write e.g. '[[0,1],[2,3],[4,5]]'");
    }
  }
}
