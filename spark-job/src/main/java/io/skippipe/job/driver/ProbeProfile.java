package io.skippipe.job.driver;

import io.skippipe.job.task.peer.ProbeRow;
import io.skippipe.job.task.peer.SlotAddress;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the all-pairs probe rows into the cluster profile the planner plans on.
 *
 * <p>Every node is its own location {@code node-i}. Per direction i→j: one-way latency = median
 * round trip / 2; bandwidth = bulk bytes / (bulk round trip − median round trip), the time the
 * payload itself took (the bulk round trip minus the latency both ways); when noise makes that
 * non-positive the whole bulk round trip is used. The planner's links are undirected, so a pair
 * gets the WORSE of its two directions (higher latency, lower bandwidth): a plan must not count
 * on the faster direction. Nodes (speed, memory), stage sizes, hop overhead and compute cost come
 * from the configured profile {@code base}: the probe measures the network, not the GPUs.
 */
public final class ProbeProfile {
  private ProbeProfile() {}

  /** The measured profile: {@code base}'s nodes and costs, links from {@code rows}. */
  public static ClusterProfile build(ClusterProfile base, List<SlotAddress> nodes,
      List<ProbeRow> rows) {
    int n = nodes.size();
    if (n != base.size() || rows.size() != n) {
      throw new IllegalStateException("probe of " + n + " slots with " + rows.size()
          + " rows for a profile of " + base.size() + " nodes");
    }
    Link[][] directed = new Link[n][n];
    for (ProbeRow r : rows) {
      long[] rtt = r.rttMicros();
      long[] bulk = r.bulkMicros();
      for (int j = 0; j < n; j++) {
        if (j != r.node()) {
          directed[r.node()][j] = link(rtt[j], bulk[j], r.bulkBytes());
        }
      }
    }
    List<Node> probed = new ArrayList<>();
    for (Node x : base.nodes()) {
      probed.add(new Node(x.id(), location(x.id()), x.speed(), x.memoryMicrobatches()));
    }
    Map<String, Link> links = new HashMap<>();
    Link worst = null;
    for (int i = 0; i < n; i++) {
      for (int j = i + 1; j < n; j++) {
        Link l = worse(directed[i][j], directed[j][i]);
        links.put(ClusterProfile.pairKey(location(i), location(j)), l);
        worst = worst == null ? l : worse(worst, l);
      }
    }
    if (worst == null) {
      worst = base.defaultLink(); // a single node measures nothing
    }
    StringBuilder where = new StringBuilder();
    for (int i = 0; i < n; i++) {
      where.append(i == 0 ? "" : ", ").append(location(i)).append('=')
          .append(nodes.get(i).key()).append('@').append(nodes.get(i).host());
    }
    String description = "Measured by the all-pairs network probe (spark.skippipe.network.mode="
        + "probe) over the block transfer: latencyMs = median ping-pong round trip / 2, "
        + "bandwidthGBps = " + rows.get(0).bulkBytes() + " bytes / (bulk round trip - round trip),"
        + " each pair the worse of its two directions; defaultLink = the worst measured link. "
        + "Nodes, stageSizes, hopOverheadSeconds and computeSecondsPerSampleLayer are those of "
        + "the configured profile " + base.name() + ". Nodes: " + where + ".";
    return new ClusterProfile(base.name() + "-probed", description, probed, base.stageSizes(),
        links, worst, base.hopOverheadSeconds(), base.computeSecondsPerSampleLayer(),
        base.linkContention());
  }

  /** The location name of a probed node. */
  public static String location(int node) {
    return "node-" + node;
  }

  /** One direction's link from its median round trip and bulk round trip. */
  static Link link(long rttMicros, long bulkMicros, int bulkBytes) {
    long payloadMicros = bulkMicros - rttMicros;
    if (payloadMicros <= 0) {
      payloadMicros = Math.max(1, bulkMicros);
    }
    double seconds = payloadMicros / 1e6;
    return new Link(rttMicros / 2.0 / 1000.0, bulkBytes / seconds / Link.GIB);
  }

  /** The higher latency and the lower bandwidth of two links. */
  static Link worse(Link a, Link b) {
    return new Link(Math.max(a.latencyMs(), b.latencyMs()),
        Math.min(a.bandwidthGBps(), b.bandwidthGBps()));
  }
}
