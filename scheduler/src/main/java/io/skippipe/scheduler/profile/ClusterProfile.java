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
    boolean linkContention) {

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
    int sum = 0;
    for (int s : stageSizes) {
      if (s < 1) {
        throw PlanningException.of("cluster " + name + " stageSizes " + stageSizes,
            "every stage needs at least one node", "remove empty stages");
      }
      sum += s;
    }
    if (sum != nodes.size()) {
      throw PlanningException.of("cluster " + name + " stageSizes " + stageSizes + " (sum " + sum
              + ")", "stage sizes must add up to the number of nodes, " + nodes.size(),
          "change stageSizes so that they sum to " + nodes.size() + " or add/remove nodes");
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

  public int size() {
    return nodes.size();
  }

  public int stageCount() {
    return stageSizes.size();
  }
}
