package io.skippipe.scheduler.profile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Adaptive re-planning support (issue 8 item 4): turns what the runtime measured into an updated
 * {@link ClusterProfile}, so the planner can re-plan on the network as it is.
 *
 * <p>Links ({@link #withMeasuredLinks}): the profile models a message of b bytes between two
 * locations as {@code latency + hopOverhead + b/bandwidth}. Per location pair, the measured
 * messages are fitted to that line: with at least two message sizes at least 2× apart, least
 * squares of seconds on bytes gives both the intercept (latency = intercept − hopOverhead, not
 * below 0) and the slope (bandwidth = 1/slope, kept when the slope is not positive); with one
 * size, the latency is kept and the bandwidth explains the median time (kept when the median is
 * not above the latency). Pairs within one location use the profile's default link and are left
 * alone; unmeasured pairs keep their figures.
 *
 * <p>Compute ({@link #withMeasuredCompute}): a node's speed becomes its old speed × modelled /
 * measured seconds (medians over its tasks), so a straggler's tasks are predicted as slow as
 * they ran.
 */
public final class Calibration {
  private Calibration() {}

  /** One measured message from node {@code from} to node {@code to}: bytes and seconds. */
  public record Hop(int from, int to, long bytes, double seconds) {}

  /** One measured compute task of {@code node}: the modelled and the measured seconds. */
  public record Compute(int node, double modelledSeconds, double measuredSeconds) {}

  /** The updated profile and one line per changed figure. */
  public record Result(ClusterProfile profile, List<String> changes) {}

  /** The profile with link figures fitted to the measured hops (class comment). */
  public static Result withMeasuredLinks(ClusterProfile p, List<Hop> hops) {
    Map<String, List<Hop>> byPair = new TreeMap<>();
    for (Hop h : hops) {
      String a = p.nodes().get(h.from()).location();
      String b = p.nodes().get(h.to()).location();
      if (!a.equals(b) && h.seconds() > 0 && h.bytes() >= 0) {
        byPair.computeIfAbsent(ClusterProfile.pairKey(a, b), k -> new ArrayList<>()).add(h);
      }
    }
    Map<String, Link> links = new HashMap<>(p.links());
    List<String> changes = new ArrayList<>();
    for (Map.Entry<String, List<Hop>> e : byPair.entrySet()) {
      String[] ab = e.getKey().split("\\|", 2);
      Link old = p.link(ab[0], ab[1]);
      Link fitted = fit(old, p.hopOverheadSeconds(), e.getValue());
      if (!fitted.equals(old)) {
        links.put(e.getKey(), fitted);
        changes.add(String.format(Locale.ROOT, "%s-%s: latency %.3f -> %.3f ms, bandwidth %.6g"
                + " -> %.6g GB/s (%d messages)", ab[0], ab[1], old.latencyMs(),
            fitted.latencyMs(), old.bandwidthGBps(), fitted.bandwidthGBps(), e.getValue().size()));
      }
    }
    return new Result(p.withLinks(links, p.defaultLink()), changes);
  }

  static Link fit(Link old, double overhead, List<Hop> hops) {
    long min = hops.stream().mapToLong(Hop::bytes).min().orElse(0);
    long max = hops.stream().mapToLong(Hop::bytes).max().orElse(0);
    if (max >= 2 * Math.max(min, 1)) {
      double sx = 0;
      double sy = 0;
      double sxx = 0;
      double sxy = 0;
      int n = hops.size();
      for (Hop h : hops) {
        sx += h.bytes();
        sy += h.seconds();
        sxx += (double) h.bytes() * h.bytes();
        sxy += h.bytes() * h.seconds();
      }
      double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
      double intercept = (sy - slope * sx) / n;
      double latencyMs = Math.max(0, (intercept - overhead) * 1000);
      double bw = slope > 0 ? 1 / (slope * Link.GIB) : old.bandwidthGBps();
      return new Link(latencyMs, bw);
    }
    double[] s = hops.stream().mapToDouble(Hop::seconds).sorted().toArray();
    double median = s[s.length / 2];
    double transfer = median - overhead - old.latencyMs() / 1000;
    if (transfer <= 0 || min == 0) {
      return old;
    }
    return new Link(old.latencyMs(), min / transfer / Link.GIB);
  }

  /** The profile with node speeds fitted to the measured compute tasks (class comment). */
  public static Result withMeasuredCompute(ClusterProfile p, List<Compute> tasks) {
    Map<Integer, List<Double>> ratio = new TreeMap<>();
    for (Compute c : tasks) {
      if (c.measuredSeconds() > 0 && c.modelledSeconds() > 0) {
        ratio.computeIfAbsent(c.node(), k -> new ArrayList<>())
            .add(c.modelledSeconds() / c.measuredSeconds());
      }
    }
    List<Node> nodes = new ArrayList<>(p.nodes());
    List<String> changes = new ArrayList<>();
    for (Map.Entry<Integer, List<Double>> e : ratio.entrySet()) {
      double[] r = e.getValue().stream().mapToDouble(Double::doubleValue).toArray();
      Arrays.sort(r);
      Node x = nodes.get(e.getKey());
      double speed = x.speed() * r[r.length / 2];
      if (Math.abs(speed - x.speed()) > 1e-9 * x.speed()) {
        nodes.set(x.id(), new Node(x.id(), x.location(), speed, x.memoryMicrobatches(),
            x.lost()));
        changes.add(String.format(Locale.ROOT, "node %d (%s): speed %.4g -> %.4g (%d tasks)",
            x.id(), x.location(), x.speed(), speed, r.length));
      }
    }
    return new Result(p.withNodes(nodes, p.stageSizes()), changes);
  }
}
