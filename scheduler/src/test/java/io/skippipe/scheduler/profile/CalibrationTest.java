package io.skippipe.scheduler.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Measured link and compute figures turned into an updated profile. */
class CalibrationTest {
  static final ClusterProfile P = Presets.cluster("laptop-geo-12");

  /** Seconds the profile's model gives a message over {@code l}. */
  static double model(Link l, long bytes) {
    return l.latencyMs() / 1000 + P.hopOverheadSeconds() + bytes / (l.bandwidthGBps() * Link.GIB);
  }

  @Test
  void twoMessageSizesGiveLatencyAndBandwidth() {
    // nodes 0 (Australia) and 1 (Belgium); the truth: 80 ms, 0.002 GB/s.
    Link truth = new Link(80, 0.002);
    List<Calibration.Hop> hops = new ArrayList<>();
    for (long b : new long[] {32, 65_536, 65_536, 200_000}) {
      hops.add(new Calibration.Hop(0, 1, b, model(truth, b)));
    }
    Calibration.Result r = Calibration.withMeasuredLinks(P, hops);
    Link got = r.profile().link("Australia", "Belgium");
    assertEquals(80, got.latencyMs(), 1e-6);
    assertEquals(0.002, got.bandwidthGBps(), 1e-12);
    assertEquals(1, r.changes().size());
    assertTrue(r.changes().get(0).startsWith("Australia-Belgium"), r.changes().toString());
    // other pairs untouched
    assertEquals(P.link("Canada", "Japan"), r.profile().link("Canada", "Japan"));
  }

  @Test
  void oneSizeKeepsTheLatencyAndExplainsTheMedianByBandwidth() {
    Link old = P.link("Australia", "Belgium");
    long b = 65_536;
    double slower = model(old, b) + 0.5; // half a second more per message
    List<Calibration.Hop> hops = List.of(new Calibration.Hop(1, 0, b, slower - 0.1),
        new Calibration.Hop(0, 1, b, slower), new Calibration.Hop(0, 1, b, slower + 3));
    Link got = Calibration.withMeasuredLinks(P, hops).profile().link("Australia", "Belgium");
    assertEquals(old.latencyMs(), got.latencyMs());
    assertEquals(slower, model(got, b), 1e-9);
    // same-location messages are left to the default link
    assertEquals(0, Calibration.withMeasuredLinks(P.withNodes(sameLocation(), P.stageSizes()),
        List.of(new Calibration.Hop(0, 1, b, 9.0))).changes().size());
  }

  static List<Node> sameLocation() {
    List<Node> n = new ArrayList<>(P.nodes());
    n.set(1, new Node(1, n.get(0).location(), 1.0, 2));
    return n;
  }

  @Test
  void aStragglerGetsTheSpeedItRanAt() {
    List<Calibration.Compute> tasks = List.of(new Calibration.Compute(3, 0.016, 0.032),
        new Calibration.Compute(3, 0.024, 0.048), new Calibration.Compute(3, 0.004, 0.009),
        new Calibration.Compute(5, 0.016, 0.016));
    Calibration.Result r = Calibration.withMeasuredCompute(P, tasks);
    assertEquals(0.5, r.profile().nodes().get(3).speed(), 1e-12);
    assertEquals(1.0, r.profile().nodes().get(5).speed());
    assertEquals(1, r.changes().size());
    assertTrue(r.changes().get(0).contains("node 3"), r.changes().toString());
  }
}
