package io.skippipe.scheduler.timeline;

import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.timeline.HtmlTimeline.Band;
import io.skippipe.scheduler.timeline.HtmlTimeline.BandKind;
import io.skippipe.scheduler.timeline.HtmlTimeline.Collision;
import io.skippipe.scheduler.timeline.HtmlTimeline.Marker;
import io.skippipe.scheduler.timeline.HtmlTimeline.Page;
import io.skippipe.scheduler.timeline.HtmlTimeline.Panel;
import io.skippipe.scheduler.timeline.HtmlTimeline.Row;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Builds the timeline pages of {@code bin/skippipe timeline}: a plan's predicted iteration, or a
 * run's measured spans under its prediction, both on one time axis and with the same rows (every
 * node of the plan, grouped by stage, labelled with its location).
 *
 * <p>Run view: all measured spans share the run's time origin (the runtime records them relative
 * to {@code run.json}'s {@code originMicros}); the page's 0 is the earliest span or iteration.
 * Chunks keep their real places, so the time between them (chunk start-up, checkpoint commits,
 * rendezvous) shows as hatched gaps. The predicted panel repeats the simulated iteration, scaled by
 * the run's time scale, at the start of every measured iteration, so each iteration can be compared
 * with its prediction directly above it.
 */
public final class TimelineBuilder {
  private TimelineBuilder() {}

  /**
   * One measured iteration: the earliest start and latest end over its nodes (µs, run origin).
   */
  public record Iteration(int iteration, long startMicros, long endMicros) {}

  /** The spans of one chunk (one trace part) and the first iteration it trained. */
  public record Chunk(int firstIteration, List<Span> spans) {}

  /**
   * What a run directory holds for its timeline.
   *
   * @param name the run directory, for titles
   * @param chunks the trace parts in iteration order (one part without a known first iteration:
   *     {@code firstIteration} -1)
   * @param iterations the measured iteration windows (empty when the metrics lack them)
   * @param timeScale modelled seconds × timeScale = wall seconds of the emulated network
   * @param timeScaleSource where the time scale came from, for the page
   */
  public record Run(String name, List<Chunk> chunks, List<Iteration> iterations,
      double timeScale, String timeScaleSource) {}

  /** The rows: every node of the plan, stage by stage (unassigned nodes last). */
  public static List<Row> rows(Plan plan) {
    List<Row> rows = new ArrayList<>();
    Map<Integer, String> where = new HashMap<>();
    for (Node n : plan.cluster().nodes()) {
      where.put(n.id(), n.location());
    }
    List<Integer> seen = new ArrayList<>();
    for (int s = 0; s < plan.stages().size(); s++) {
      for (int node : plan.stages().get(s).stream().sorted().toList()) {
        rows.add(new Row(node, s, label(node, where.get(node))));
        seen.add(node);
      }
    }
    for (Node n : plan.cluster().nodes()) {
      if (!seen.contains(n.id())) {
        rows.add(new Row(n.id(), -1, label(n.id(), n.location())));
      }
    }
    return rows;
  }

  private static String label(int node, String location) {
    return "node " + node + (location == null || location.isEmpty() ? "" : " · " + location);
  }

  /** The page of a plan: its simulated iteration. */
  public static Page plan(Plan plan, SimulationResult sim) {
    String summary = String.format(Locale.ROOT, "%s plan, simulated: iteration %.3f s, %d"
            + " microbatches, %d collisions marked%s", plan.method(), sim.iterationSeconds(),
        sim.microbatches(), collisions(sim.spans(), true).size(), sim.deadlocked()
            ? "; the simulation DEADLOCKS on this plan (drawn up to where it stopped)" : "");
    Panel p = new Panel("predicted iteration (simulator)", summary, sim.spans(), List.of(),
        List.of(), collisions(sim.spans(), true));
    return new Page(title(plan), List.of("Times in modelled seconds (the cluster profile's"
        + " network and compute), one iteration."), rows(plan), List.of(p));
  }

  /** The page of a run: predicted per iteration (× time scale) above measured. */
  public static Page run(Plan plan, SimulationResult sim, Run run) {
    List<Span> measured = new ArrayList<>();
    run.chunks().forEach(c -> measured.addAll(c.spans()));
    long origin = Long.MAX_VALUE;
    for (Span s : measured) {
      origin = Math.min(origin, s.startMicros());
    }
    for (Iteration it : run.iterations()) {
      origin = Math.min(origin, it.startMicros());
    }
    if (origin == Long.MAX_VALUE) {
      origin = 0;
    }
    final long o = origin;
    List<Span> shifted = measured.stream().map(s -> shift(s, -o)).toList();
    List<Iteration> iterations = run.iterations().stream()
        .map(i -> new Iteration(i.iteration(), i.startMicros() - o, i.endMicros() - o))
        .sorted(Comparator.comparingLong(Iteration::startMicros)).toList();
    long start = 0;
    long end = 0;
    for (Span s : shifted) {
      end = Math.max(end, s.endMicros());
    }
    for (Iteration i : iterations) {
      end = Math.max(end, i.endMicros());
    }

    // measured panel: iteration bands, gaps, chunk markers
    List<Band> bands = new ArrayList<>();
    long inIterations = 0;
    long outside = 0;
    long cursor = start;
    for (Iteration i : iterations) {
      if (i.startMicros() > cursor) {
        bands.add(new Band(BandKind.GAP, gapLabel(i.startMicros() - cursor), cursor,
            i.startMicros()));
        outside += i.startMicros() - cursor;
      }
      bands.add(new Band(BandKind.ITERATION, "it " + i.iteration(), i.startMicros(),
          i.endMicros()));
      inIterations += Math.max(0, i.endMicros() - Math.max(cursor, i.startMicros()));
      cursor = Math.max(cursor, i.endMicros());
    }
    if (!iterations.isEmpty() && end > cursor) {
      bands.add(new Band(BandKind.GAP, gapLabel(end - cursor), cursor, end));
      outside += end - cursor;
    }
    List<Marker> markers = new ArrayList<>();
    if (run.chunks().size() > 1) {
      for (int c = 0; c < run.chunks().size(); c++) {
        Chunk ch = run.chunks().get(c);
        long first = ch.spans().stream().mapToLong(Span::startMicros).min().orElse(o) - o;
        String its = ch.firstIteration() < 0 ? "" : " (from iteration " + ch.firstIteration()
            + ")";
        markers.add(new Marker("chunk " + (c + 1) + "/" + run.chunks().size() + its, first));
      }
    }
    List<Collision> measuredCollisions = collisions(shifted, false);
    String measuredSummary = String.format(Locale.ROOT, "%.3f s from the first span to the last",
        (end - start) / 1e6);
    if (!iterations.isEmpty()) {
      measuredSummary += String.format(Locale.ROOT, " = %d iterations %.3f s + %.3f s outside"
              + " iterations (chunk start-up, checkpoints, commits)", iterations.size(),
          inIterations / 1e6, outside / 1e6);
    }
    measuredSummary += String.format(Locale.ROOT, "; %d chunk%s, %d spans, %d collisions"
            + " marked (ready = the microbatch's previous compute ended; transfer time not"
            + " measured)", run.chunks().size(), run.chunks().size() == 1 ? "" : "s",
        shifted.size(), measuredCollisions.size());
    Panel measuredPanel = new Panel("measured (" + run.name() + ")", measuredSummary, shifted,
        bands, markers, measuredCollisions);

    // predicted panel: the simulated iteration × time scale at every measured iteration's start
    List<Long> starts = new ArrayList<>();
    iterations.forEach(i -> starts.add(i.startMicros()));
    long makespan = sim.deadlocked() ? sim.spans().stream().mapToLong(Span::endMicros).max()
        .orElse(0) : sim.iterationMicros(); // a deadlocked plan: draw what it simulated
    long scaledLength = Math.round(makespan * run.timeScale());
    if (starts.isEmpty()) {
      starts.add(0L);
    }
    List<Span> predicted = new ArrayList<>();
    List<Band> predictedBands = new ArrayList<>();
    List<Collision> predictedCollisions = new ArrayList<>();
    List<Collision> oneIteration = collisions(sim.spans(), true);
    for (int k = 0; k < starts.size(); k++) {
      long at = starts.get(k);
      for (Span s : sim.spans()) {
        predicted.add(new Span(s.node(), s.stage(), s.microbatch(), s.kind(),
            at + Math.round(s.startMicros() * run.timeScale()),
            at + Math.round(s.endMicros() * run.timeScale())));
      }
      for (Collision c : oneIteration) {
        predictedCollisions.add(new Collision(c.node(), c.microbatch(),
            at + Math.round(c.startMicros() * run.timeScale()),
            at + Math.round(c.endMicros() * run.timeScale()), c.detail()));
      }
      String label = iterations.isEmpty() ? "predicted iteration"
          : "it " + iterations.get(k).iteration();
      predictedBands.add(new Band(BandKind.ITERATION, label, at, at + scaledLength));
    }
    String predictedSummary = String.format(Locale.ROOT, "simulator: %.3f s per iteration x time"
            + " scale %s (%s) = %.3f s, drawn at the start of each of the %d measured iterations;"
            + " %d collisions per iteration marked", sim.iterationSeconds(),
        trimScale(run.timeScale()), run.timeScaleSource(), scaledLength / 1e6, starts.size(),
        oneIteration.size());
    Panel predictedPanel = new Panel("predicted (" + plan.method() + " plan, simulated)",
        predictedSummary, predicted, predictedBands, List.of(), predictedCollisions);
    List<String> notes = new ArrayList<>();
    notes.add("One time axis for both panels: 0 is the run's first measured span; every"
        + " predicted iteration starts where the measured one did.");
    String overlap = overlap(shifted);
    if (overlap != null) {
      notes.add("Warning: measured spans overlap on one node (" + overlap + "): this trace was"
          + " written with a time origin per chunk (runs before run.json's originMicros), so"
          + " its chunks are drawn on top of each other.");
    }
    return new Page(title(plan), notes, rows(plan), List.of(predictedPanel, measuredPanel));
  }

  /**
   * Collisions in one timeline: a compute span of microbatch m on node x whose input was ready
   * before x became free, because x was computing another microbatch. Ready = the end of m's last
   * transfer before the span (predicted spans carry SEND) or, without transfers, the end of m's
   * previous compute span on another node. The collision lasts from ready to the span's start, and
   * is reported only if another microbatch's compute on x overlaps that interval.
   */
  public static List<Collision> collisions(List<Span> spans, boolean useSends) {
    Map<Integer, List<Span>> byMicrobatch = new HashMap<>();
    Map<Integer, List<Span>> computeByNode = new HashMap<>();
    for (Span s : spans) {
      if (s.microbatch() >= 0) {
        byMicrobatch.computeIfAbsent(s.microbatch(), k -> new ArrayList<>()).add(s);
      }
      if (s.isCompute()) {
        computeByNode.computeIfAbsent(s.node(), k -> new ArrayList<>()).add(s);
      }
    }
    List<Collision> out = new ArrayList<>();
    for (List<Span> mine : byMicrobatch.values()) {
      mine.sort(Comparator.comparingLong(Span::startMicros).thenComparingLong(Span::endMicros));
      for (int i = 0; i < mine.size(); i++) {
        Span c = mine.get(i);
        if (!c.isCompute()) {
          continue;
        }
        long ready = -1;
        for (int j = i - 1; j >= 0; j--) {
          Span p = mine.get(j);
          if (p.endMicros() > c.startMicros()) {
            continue;
          }
          if (useSends ? p.kind() == Span.Kind.SEND : p.isCompute() && p.node() != c.node()) {
            ready = p.endMicros();
            break;
          }
          if (p.isCompute() && p.node() == c.node()) {
            break; // the microbatch's own earlier work on this node: no input to wait for
          }
        }
        if (ready < 0 || ready >= c.startMicros()) {
          continue;
        }
        final long r = ready;
        Span blocker = computeByNode.getOrDefault(c.node(), List.of()).stream()
            .filter(o -> o.microbatch() != c.microbatch() && o.startMicros() < c.startMicros()
                && o.endMicros() > r)
            .max(Comparator.comparingLong(Span::endMicros)).orElse(null);
        if (blocker != null) {
          out.add(new Collision(c.node(), c.microbatch(), r, c.startMicros(), String.format(
              Locale.ROOT, "microbatch %d ready for node %d at %.3f s, node busy with"
                  + " microbatch %d (%s) until %.3f s; %s started %.3f s late",
              c.microbatch(), c.node(), r / 1e6, blocker.microbatch(), blocker.kind(),
              blocker.endMicros() / 1e6, c.kind(), (c.startMicros() - r) / 1e6)));
        }
      }
    }
    out.sort(Comparator.comparingLong(Collision::startMicros).thenComparingInt(Collision::node));
    return out;
  }

  /** A node and time where two measured compute spans overlap, or null. */
  static String overlap(List<Span> spans) {
    Map<Integer, List<Span>> byNode = new HashMap<>();
    spans.stream().filter(Span::isCompute)
        .forEach(s -> byNode.computeIfAbsent(s.node(), k -> new ArrayList<>()).add(s));
    for (Map.Entry<Integer, List<Span>> e : byNode.entrySet()) {
      List<Span> l = new ArrayList<>(e.getValue());
      l.sort(Comparator.comparingLong(Span::startMicros));
      for (int i = 1; i < l.size(); i++) {
        if (l.get(i).startMicros() < l.get(i - 1).endMicros()) {
          return String.format(Locale.ROOT, "node %d at %.3f s", e.getKey(),
              l.get(i).startMicros() / 1e6);
        }
      }
    }
    return null;
  }

  private static Span shift(Span s, long by) {
    return new Span(s.node(), s.stage(), s.microbatch(), s.kind(), s.startMicros() + by,
        s.endMicros() + by);
  }

  private static String gapLabel(long micros) {
    return String.format(Locale.ROOT, "gap %.2f s", micros / 1e6);
  }

  private static String trimScale(double s) {
    return s == Math.rint(s) ? String.valueOf((long) s) : String.format(Locale.ROOT, "%.3g", s);
  }

  private static String title(Plan plan) {
    return "SkipPipe timeline: " + plan.method() + " on " + plan.cluster().name() + " / "
        + plan.model().name();
  }
}
