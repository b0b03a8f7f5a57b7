package io.skippipe.scheduler.timeline;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Lanes of a node's row, so that no two spans drawn on one lane overlap: compute spans (forward,
 * backward, loss, all-reduce, checkpoint) on the compute lanes, transfers and waits (send, receive,
 * wait) on the transfer lanes below them. Each class is packed first-fit in start order, so a node
 * that never runs two things at once has one compute lane, and overlapping sends (several
 * microbatches in flight on a link) get one lane each. Shared by the HTML timeline and the Chrome
 * trace.
 */
public final class Lanes {
  private final Map<Span, Integer> lane = new IdentityHashMap<>();
  private final Map<Integer, int[]> countsByNode = new HashMap<>();

  private Lanes() {}

  /** Whether a span is drawn on the compute lanes (else on the transfer lanes). */
  public static boolean isComputeLane(Span s) {
    return s.isCompute() || s.kind() == Span.Kind.ALLREDUCE || s.kind() == Span.Kind.CKPT;
  }

  /** Packs {@code spans} (any nodes) into lanes. */
  public static Lanes of(List<Span> spans) {
    Lanes l = new Lanes();
    Map<Integer, List<Span>> byNode = new HashMap<>();
    for (Span s : spans) {
      byNode.computeIfAbsent(s.node(), k -> new ArrayList<>()).add(s);
    }
    for (Map.Entry<Integer, List<Span>> e : byNode.entrySet()) {
      List<Span> sorted = new ArrayList<>(e.getValue());
      sorted.sort(Comparator.comparingLong(Span::startMicros).thenComparingLong(Span::endMicros)
          .thenComparingInt(Span::microbatch));
      int compute = pack(sorted.stream().filter(Lanes::isComputeLane).toList(), l.lane);
      int transfer = pack(sorted.stream().filter(s -> !isComputeLane(s)).toList(), l.lane);
      l.countsByNode.put(e.getKey(), new int[] {Math.max(1, compute), transfer});
    }
    return l;
  }

  private static int pack(List<Span> spans, Map<Span, Integer> out) {
    List<Long> laneEnds = new ArrayList<>();
    for (Span s : spans) {
      int chosen = -1;
      for (int i = 0; i < laneEnds.size(); i++) {
        if (laneEnds.get(i) <= s.startMicros()) {
          chosen = i;
          break;
        }
      }
      if (chosen < 0) {
        chosen = laneEnds.size();
        laneEnds.add(0L);
      }
      laneEnds.set(chosen, s.endMicros());
      out.put(s, chosen);
    }
    return laneEnds.size();
  }

  /** The span's lane within its class (compute or transfer), from 0. */
  public int lane(Span s) {
    Integer i = lane.get(s);
    if (i == null) {
      throw new IllegalArgumentException("span not packed: " + s);
    }
    return i;
  }

  /** Compute lanes of a node (at least 1). */
  public int computeLanes(int node) {
    return countsByNode.getOrDefault(node, new int[] {1, 0})[0];
  }

  /** Transfer lanes of a node (0 when it has no transfer or wait span). */
  public int transferLanes(int node) {
    return countsByNode.getOrDefault(node, new int[] {1, 0})[1];
  }
}
