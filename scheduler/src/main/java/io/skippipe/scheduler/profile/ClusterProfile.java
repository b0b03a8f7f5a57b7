package io.skippipe.scheduler.profile;

import io.skippipe.scheduler.plan.PlanningException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A cluster as the planner sees it (DESIGN.md §5.1): nodes with locations, speeds and memory, the
 * stage sizes, the link table between locations and the cost constants.
 *
 * @param links link per unordered location pair, keyed by {@link #pairKey}
 * @param defaultLink link for a pair missing from the table (and for two nodes in one location)
 * @param hopOverheadSeconds fixed cost added to every hop (host-device copies, serialization)
 * @param computeSecondsPerSampleLayer forward seconds per sample per layer on a speed-1.0 node
 * @param linkContention whether transfers over one directed link queue behind each other
 * @param optimizerSecondsPerParameter seconds of one optimizer (AdamW) step per parameter on a
 *     speed-1.0 node; the default {@link #DEFAULT_OPTIMIZER_SECONDS_PER_PARAMETER} is an A100-class
 *     GPU's fused AdamW (memory-bound: about 28 bytes read and written per parameter at 1.5 TB/s)
 *
 * <p>Nodes marked {@link Node#lost()} keep their ids; {@code stageSizes} then counts the live
 * nodes only, and a non-data stage may be empty (all its replicas lost: paths skip it).
 */
public record ClusterProfile(
    String name,
    String description,
    List<Node> nodes,
    List<Integer> stageSizes,
    Map<String, Link> links,
    Link defaultLink,
    double hopOverheadSeconds,
    double computeSecondsPerSampleLayer,
    boolean linkContention,
    double optimizerSecondsPerParameter) {

  /** 1.9e-11 s per parameter: see {@code optimizerSecondsPerParameter}. */
  public static final double DEFAULT_OPTIMIZER_SECONDS_PER_PARAMETER = 1.9e-11;

  /** A profile with the default optimizer cost. */
  public ClusterProfile(String name, String description, List<Node> nodes,
      List<Integer> stageSizes, Map<String, Link> links, Link defaultLink,
      double hopOverheadSeconds, double computeSecondsPerSampleLayer, boolean linkContention) {
    this(name, description, nodes, stageSizes, links, defaultLink, hopOverheadSeconds,
        computeSecondsPerSampleLayer, linkContention, DEFAULT_OPTIMIZER_SECONDS_PER_PARAMETER);
  }

  public ClusterProfile {
    if (nodes == null || nodes.isEmpty()) {
      throw PlanningException.of("cluster " + name + " nodes " + nodes,
          "a cluster needs at least one node", "list the nodes under \"nodes\"");
    }
    nodes = List.copyOf(nodes);
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i).id() != i) {
        throw PlanningException.of("cluster " + name + " node id " + nodes.get(i).id()
                + " at position " + i, "node ids must be 0..N-1 in order",
            "renumber the nodes so that node i is the i-th entry");
      }
    }
    if (stageSizes == null || stageSizes.isEmpty()) {
      throw PlanningException.of("cluster " + name + " stageSizes " + stageSizes,
          "at least one stage is needed", "set \"stageSizes\", e.g. [5,3,3,3,3,3]");
    }
    stageSizes = List.copyOf(stageSizes);
    int live = (int) nodes.stream().filter(x -> !x.lost()).count();
    int sum = 0;
    for (int i = 0; i < stageSizes.size(); i++) {
      int s = stageSizes.get(i);
      if (s < 0 || (s == 0 && (i == 0 || live == nodes.size()))) {
        throw PlanningException.of("cluster " + name + " stageSizes " + stageSizes,
            i == 0 ? "stage 0 (the data stage) needs at least one live node"
                : "every stage needs at least one node (only after node loss may a stage be"
                    + " empty)", "remove empty stages");
      }
      sum += s;
    }
    if (sum != live) {
      throw PlanningException.of("cluster " + name + " stageSizes " + stageSizes + " (sum " + sum
              + ")", "stage sizes must add up to the number of live nodes, " + live
              + (live < nodes.size() ? " (" + (nodes.size() - live) + " lost)" : ""),
          "change stageSizes so that they sum to " + live + " or add/remove nodes");
    }
    links = links == null ? Map.of() : new TreeMap<>(links);
    if (defaultLink == null) {
      throw PlanningException.of("cluster " + name + " defaultLink null",
          "a default link is needed for pairs missing from the table",
          "add \"defaultLink\": {\"latencyMs\": 1, \"bandwidthGBps\": 2.0}");
    }
    if (!(hopOverheadSeconds >= 0) || Double.isInfinite(hopOverheadSeconds)) {
      throw PlanningException.of("cluster " + name + " hopOverheadSeconds " + hopOverheadSeconds,
          "hop overhead must be >= 0 and finite", "use 0.35 as in the paper, or 0");
    }
    if (!(computeSecondsPerSampleLayer > 0) || Double.isInfinite(computeSecondsPerSampleLayer)) {
      throw PlanningException.of(
          "cluster " + name + " computeSecondsPerSampleLayer " + computeSecondsPerSampleLayer,
          "compute cost must be > 0 and finite", "use 0.055 (the paper's GCP A100 value)");
    }
    if (!(optimizerSecondsPerParameter >= 0) || Double.isInfinite(optimizerSecondsPerParameter)) {
      throw PlanningException.of("cluster " + name + " optimizerSecondsPerParameter "
              + optimizerSecondsPerParameter, "must be >= 0 and finite",
          "leave it out for the default " + DEFAULT_OPTIMIZER_SECONDS_PER_PARAMETER);
    }
    if (description == null) {
      description = "";
    }
  }

  /** Key of an unordered location pair in {@link #links}: the two names sorted, joined by '|'. */
  public static String pairKey(String a, String b) {
    return a.compareTo(b) <= 0 ? a + "|" + b : b + "|" + a;
  }

  /** The link between two locations; the default link when the pair is not in the table. */
  public Link link(String locationA, String locationB) {
    if (locationA.equals(locationB)) {
      return defaultLink;
    }
    return links.getOrDefault(pairKey(locationA, locationB), defaultLink);
  }

  /** Number of nodes, lost ones included (node ids are 0..size()-1). */
  public int size() {
    return nodes.size();
  }

  /** Whether node {@code id} is live (exists and is not lost). */
  public boolean isLive(int id) {
    return id >= 0 && id < nodes.size() && !nodes.get(id).lost();
  }

  /** The ids of the live nodes, ascending. */
  public List<Integer> liveNodes() {
    return nodes.stream().filter(x -> !x.lost()).map(Node::id).toList();
  }

  /** This profile with other nodes and stage sizes (everything else kept). */
  public ClusterProfile withNodes(List<Node> newNodes, List<Integer> newStageSizes) {
    return new ClusterProfile(name, description, newNodes, newStageSizes, links, defaultLink,
        hopOverheadSeconds, computeSecondsPerSampleLayer, linkContention,
        optimizerSecondsPerParameter);
  }

  /** This profile with another link table and default link (everything else kept). */
  public ClusterProfile withLinks(Map<String, Link> newLinks, Link newDefault) {
    return new ClusterProfile(name, description, nodes, stageSizes, newLinks, newDefault,
        hopOverheadSeconds, computeSecondsPerSampleLayer, linkContention,
        optimizerSecondsPerParameter);
  }

  public int stageCount() {
    return stageSizes.size();
  }
}
