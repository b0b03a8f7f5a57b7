package io.skippipe.scheduler.timeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.HtmlTimeline.Collision;
import io.skippipe.scheduler.timeline.HtmlTimeline.Page;
import io.skippipe.scheduler.timeline.HtmlTimeline.Panel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The run timeline on a synthetic three-chunk run (two iterations per chunk, known gaps between
 * chunks, spans on the run's one time origin): no two spans overlap on a node's lane, the header's
 * duration is the iterations plus the gaps, both panels have the same rows, the prediction is
 * repeated per iteration and scaled; collisions and the Chrome trace's tracks.
 */
class TimelineTest {
  static Plan plan;
  static SimulationResult sim;
  static final double SCALE = 3.0;
  static final long[] GAPS = {700_000, 1_100_000}; // between chunks 1-2 and 2-3
  static final long CKPT = 150_000;

  @BeforeAll
  static void planAndSimulate() {
    PlannerConfig d = PlannerConfig.defaults("skippipe");
    PlannerConfig quick = d.withAllocation(d.allocation().withGcma(20, 200).withEvaluations(20));
    plan = Planner.plan(Presets.cluster("laptop-geo-12"), Presets.model("llama-tiny"), quick);
    sim = Simulator.run(plan);
  }

  /** Three chunks of two iterations; {@code chunkRelative} reproduces the old per-chunk origin. */
  static TimelineBuilder.Run syntheticRun(boolean chunkRelative) {
    long iteration = Math.round(sim.iterationMicros() * SCALE);
    List<TimelineBuilder.Chunk> chunks = new ArrayList<>();
    List<TimelineBuilder.Iteration> iterations = new ArrayList<>();
    long t = 5_000_000; // the run's first span is 5 s after its origin
    for (int c = 0; c < 3; c++) {
      List<Span> spans = new ArrayList<>();
      long chunkStart = t;
      for (int k = 0; k < 2; k++) {
        int it = 2 * c + k;
        long base = chunkRelative ? t - chunkStart : t;
        for (Span s : sim.spans()) {
          if (s.kind() == Span.Kind.SEND) {
            continue; // the runtime records waits, not sends
          }
          spans.add(new Span(s.node(), s.stage(), s.microbatch(), s.kind(),
              base + Math.round(s.startMicros() * SCALE), base + Math.round(s.endMicros() * SCALE)));
        }
        iterations.add(new TimelineBuilder.Iteration(it, t, t + iteration));
        t += iteration;
      }
      for (int node = 0; node < plan.nodeCount(); node++) {
        long base = chunkRelative ? t - chunkStart : t;
        spans.add(new Span(node, plan.stageOf(node), -1, Span.Kind.CKPT, base, base + CKPT));
      }
      t += CKPT;
      chunks.add(new TimelineBuilder.Chunk(2 * c, spans));
      if (c < 2) {
        t += GAPS[c];
      }
    }
    return new TimelineBuilder.Run("runs/synthetic", chunks, iterations, SCALE,
        "the run's spark.skippipe.network.timeScale");
  }

  static String html(Page page) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HtmlTimeline.write(page, out);
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void threeChunksLieEndToEndWithNoOverlapAndTheHeaderAddsUp() {
    Page page = TimelineBuilder.run(plan, sim, syntheticRun(false));
    assertEquals(2, page.panels().size());
    Panel predicted = page.panels().get(0);
    Panel measured = page.panels().get(1);

    // no two spans overlap on one node and lane, in either panel
    for (Panel p : page.panels()) {
      Lanes lanes = Lanes.of(p.spans());
      Map<String, List<Span>> byLane = new HashMap<>();
      for (Span s : p.spans()) {
        byLane.computeIfAbsent(s.node() + "/" + Lanes.isComputeLane(s) + "/" + lanes.lane(s),
            k -> new ArrayList<>()).add(s);
      }
      for (Map.Entry<String, List<Span>> e : byLane.entrySet()) {
        List<Span> l = e.getValue();
        l.sort((a, b) -> Long.compare(a.startMicros(), b.startMicros()));
        for (int i = 1; i < l.size(); i++) {
          assertTrue(l.get(i).startMicros() >= l.get(i - 1).endMicros(),
              p.title() + " lane " + e.getKey() + ": " + l.get(i - 1) + " overlaps " + l.get(i));
        }
      }
    }
    // the measured chunks need one compute lane per node: they do not overlap in time at all
    Lanes measuredLanes = Lanes.of(measured.spans());
    for (HtmlTimeline.Row row : page.rows()) {
      assertEquals(1, measuredLanes.computeLanes(row.node()), "node " + row.node());
    }

    // header: total = iterations + gaps, and equal to the run as built
    long iteration = Math.round(sim.iterationMicros() * SCALE);
    long outside = GAPS[0] + GAPS[1] + 3 * CKPT;
    Matcher m = Pattern.compile("([0-9.]+) s from the first span to the last = 6 iterations"
        + " ([0-9.]+) s \\+ ([0-9.]+) s outside iterations").matcher(measured.summary());
    assertTrue(m.find(), measured.summary());
    double total = Double.parseDouble(m.group(1));
    double its = Double.parseDouble(m.group(2));
    double gaps = Double.parseDouble(m.group(3));
    assertEquals(total, its + gaps, 0.0015);
    assertEquals((6 * iteration + outside) / 1e6, total, 0.0015);
    assertEquals(6 * iteration / 1e6, its, 0.0015);
    assertEquals(3, measured.markers().size(), "a marker per chunk");
    assertTrue(measured.markers().get(2).label().startsWith("chunk 3/3 (from iteration 4)"));
    // the first chunk starts at the page's 0; the second one gap after the first's checkpoint
    assertEquals(0, measured.markers().get(0).atMicros());
    assertEquals(2 * iteration + CKPT + GAPS[0], measured.markers().get(1).atMicros());

    // predicted: one scaled copy at each measured iteration's start
    assertEquals(6, predicted.bands().size());
    for (int k = 0; k < 6; k++) {
      HtmlTimeline.Band b = predicted.bands().get(k);
      String label = "it " + k;
      HtmlTimeline.Band it = measured.bands().stream()
          .filter(x -> x.label().equals(label)).findFirst().orElseThrow();
      assertEquals(it.startMicros(), b.startMicros());
      assertEquals(Math.round(sim.iterationMicros() * SCALE), b.endMicros() - b.startMicros());
    }
    assertEquals(6L * sim.spans().size(), predicted.spans().size());
    assertTrue(predicted.summary().contains("x time scale 3"), predicted.summary());

    // the drawn page: both panels list the same rows, every plan node, grouped by stage
    String page1 = html(page);
    String[] svgs = page1.split("<svg ");
    assertEquals(3, svgs.length);
    List<String> rows1 = labels(svgs[1]);
    assertEquals(rows1, labels(svgs[2]));
    assertEquals(plan.nodeCount(), rows1.size());
    assertTrue(rows1.get(0).startsWith("node " + plan.stages().get(0).get(0) + " · "), rows1.get(0));
    assertFalse(page1.contains("Warning"), "no overlap warning for a run-origin trace");
    // bars wide enough carry ids; every kind drawn has a legend entry
    assertTrue(page1.contains("<text class=\"id\""), "microbatch ids on bars");
    for (Span.Kind k : Span.Kind.values()) {
      if (page1.contains("class=\"span " + k.name() + "\"")) {
        assertTrue(page1.contains("." + k.name() + "{fill:"), "legend/style for " + k);
      }
    }
    for (String legend : List.of("forward", "backward", "loss", "checkpoint", "waiting",
        "collision", "outside iterations", "chunk start")) {
      assertTrue(page1.contains(legend), "legend entry " + legend);
    }
  }

  static List<String> labels(String svg) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("<text x=\"14\" y=\"\\d+\">([^<]+)</text>").matcher(svg);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  @Test
  void aTraceWithATimeOriginPerChunkIsFlagged() {
    Page page = TimelineBuilder.run(plan, sim, syntheticRun(true));
    assertTrue(page.notes().stream().anyMatch(n -> n.startsWith("Warning: measured spans"
        + " overlap")), page.notes().toString());
    Lanes lanes = Lanes.of(page.panels().get(1).spans());
    assertTrue(page.rows().stream().anyMatch(r -> lanes.computeLanes(r.node()) > 1));
  }

  @Test
  void collisionsMarkAMicrobatchWaitingForABusyNode() {
    List<Span> spans = List.of(
        new Span(0, 0, 0, Span.Kind.FWD, 0, 2), new Span(0, 0, 1, Span.Kind.FWD, 2, 4),
        new Span(0, 0, 0, Span.Kind.SEND, 2, 5), new Span(0, 0, 1, Span.Kind.SEND, 4, 6),
        new Span(1, 1, 0, Span.Kind.FWD, 5, 15), // node 1 busy with mb 0 until 15
        new Span(1, 1, 1, Span.Kind.FWD, 15, 20)); // mb 1 arrived at 6: waited 9 µs
    List<Collision> predicted = TimelineBuilder.collisions(spans, true);
    assertEquals(1, predicted.size(), predicted.toString());
    Collision c = predicted.get(0);
    assertEquals(1, c.node());
    assertEquals(1, c.microbatch());
    assertEquals(6, c.startMicros());
    assertEquals(15, c.endMicros());
    // measured: ready = the previous compute's end (4), no sends
    List<Collision> measured = TimelineBuilder.collisions(spans.stream()
        .filter(s -> s.kind() != Span.Kind.SEND).toList(), false);
    assertEquals(4, measured.get(0).startMicros());
    // arriving after the node is free is no collision
    assertTrue(TimelineBuilder.collisions(List.of(new Span(0, 0, 1, Span.Kind.SEND, 0, 16),
        new Span(1, 1, 0, Span.Kind.FWD, 5, 15), new Span(1, 1, 1, Span.Kind.FWD, 16, 20)),
        true).isEmpty());
  }

  @Test
  void chromeTraceEventsNeverOverlapOnAThreadAndThreadsNameTheNode() throws Exception {
    List<HtmlTimeline.Row> rows = TimelineBuilder.rows(plan);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ChromeTrace.write(List.of(new ChromeTrace.Process("predicted", rows, sim.spans())), out);
    JsonNode j = new ObjectMapper().readTree(out.toByteArray());
    Map<String, List<long[]>> byThread = new HashMap<>();
    Map<String, String> names = new HashMap<>();
    int complete = 0;
    for (JsonNode e : j.get("traceEvents")) {
      String key = e.get("pid").asInt() + "/" + e.get("tid").asInt();
      if (e.get("ph").asText().equals("M") && e.get("name").asText().equals("thread_name")) {
        names.put(key, e.get("args").get("name").asText());
      }
      if (e.get("ph").asText().equals("X")) {
        complete++;
        byThread.computeIfAbsent(key, k -> new ArrayList<>())
            .add(new long[] {e.get("ts").asLong(), e.get("ts").asLong() + e.get("dur").asLong()});
      }
    }
    assertEquals(sim.spans().size(), complete);
    long sendThreads = names.values().stream().filter(n -> n.contains("transfers")).count();
    assertTrue(sendThreads > rows.size() / 2, "sends get transfer tracks: " + sendThreads);
    for (Map.Entry<String, List<long[]>> e : byThread.entrySet()) {
      assertTrue(names.containsKey(e.getKey()), "named thread " + e.getKey());
      List<long[]> l = e.getValue();
      l.sort((a, b) -> Long.compare(a[0], b[0]));
      for (int i = 1; i < l.size(); i++) {
        assertTrue(l.get(i)[0] >= l.get(i - 1)[1], "overlap on " + names.get(e.getKey()));
      }
    }
    assertNotEquals(names.get("1/0"), null);
    assertTrue(names.get("1/0").contains(" · ") && names.get("1/0").contains("(stage 0)"),
        names.get("1/0"));
  }
}
