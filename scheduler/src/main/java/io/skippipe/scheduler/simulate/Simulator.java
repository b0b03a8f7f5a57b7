package io.skippipe.scheduler.simulate;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.route.Microbatch;
import io.skippipe.scheduler.route.Schedule;
import io.skippipe.scheduler.timeline.Span;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A discrete-event simulator of one training iteration (DESIGN.md §4): the ground-truth metric
 * every method is compared on.
 *
 * <p>Each microbatch runs the task chain FWD on every path node, LOSS at its data node, then BWD on
 * the path nodes in reverse; consecutive tasks on different nodes are separated by the hop time.
 * Rules: a node computes one task at a time and never preempts; it holds at most {@code memory}
 * activations (a FWD takes one, the BWD on the same node returns it, the LOSS takes none), so a
 * FWD that finds the node full waits for a BWD; among ready tasks, BWD and LOSS go before FWD (1F1B
 * priority, which frees memory) and ties break on the smaller microbatch id. All events of one
 * instant are applied before any node picks its next task. With {@code linkContention} a hop
 * first waits until its directed link has finished the previous transfer's bytes.
 *
 * <p>Unlike the reference's one-second buckets (spec §5) there are no polling steps, no per-task
 * gaps and no slot locks: a microbatch becomes ready at its data node at its release time.
 */
public final class Simulator {
  private Simulator() {}

  private static final int ARRIVE = 0;
  private static final int DONE = 1;

  /** Event: at {@code time}, task {@code task} of microbatch {@code mb} arrives or ends. */
  private record Event(long time, long seq, int type, int mb, int task) {}

  /** Simulates a plan on the cost model of its own cluster and model. */
  public static SimulationResult run(io.skippipe.scheduler.plan.Plan plan) {
    return run(plan.toSchedule(), CostModel.of(plan.cluster(), plan.model()));
  }

  /** Simulates the schedule on the cost model. */
  public static SimulationResult run(Schedule schedule, CostModel costs) {
    int[] stageOf = schedule.stageOf();
    List<Microbatch> mbs = schedule.microbatches();
    int n = costs.size();
    int m = mbs.size();
    // taskNode[i][t] and taskKind[i][t]: the 2l+1 tasks of microbatch i.
    int[][] taskNode = new int[m][];
    Span.Kind[][] taskKind = new Span.Kind[m][];
    for (int i = 0; i < m; i++) {
      int[] p = mbs.get(i).path().toArray();
      int l = p.length;
      taskNode[i] = new int[2 * l + 1];
      taskKind[i] = new Span.Kind[2 * l + 1];
      for (int k = 0; k < l; k++) {
        taskNode[i][k] = p[k];
        taskKind[i][k] = Span.Kind.FWD;
        taskNode[i][2 * l - k] = p[k];
        taskKind[i][2 * l - k] = Span.Kind.BWD;
      }
      taskNode[i][l] = p[0];
      taskKind[i][l] = Span.Kind.LOSS;
    }
    PriorityQueue<Event> events = new PriorityQueue<>((a, b) -> a.time != b.time
        ? Long.compare(a.time, b.time) : Long.compare(a.seq, b.seq));
    long[] seq = {0};
    // Ready tasks per node, ordered by (class: BWD/LOSS first, then microbatch id).
    List<PriorityQueue<int[]>> ready = new ArrayList<>();
    for (int x = 0; x < n; x++) {
      ready.add(new PriorityQueue<>((a, b) -> a[2] != b[2] ? Integer.compare(a[2], b[2])
          : a[3] != b[3] ? Integer.compare(a[3], b[3]) : Integer.compare(a[1], b[1])));
    }
    boolean[] busy = new boolean[n];
    int[] held = new int[n];
    long[] busyMicros = new long[n];
    long[][] linkFree = costs.linkContention() ? new long[n][n] : null;
    List<Span> spans = new ArrayList<>();
    for (int i = 0; i < m; i++) {
      events.add(new Event(mbs.get(i).releaseMicros(), seq[0]++, ARRIVE, i, 0));
    }
    int finished = 0;
    long makespan = 0;
    while (!events.isEmpty()) {
      long now = events.peek().time;
      while (!events.isEmpty() && events.peek().time == now) {
        Event e = events.poll();
        int x = taskNode[e.mb][e.task];
        if (e.type == ARRIVE) {
          int cls = taskKind[e.mb][e.task] == Span.Kind.FWD ? 1 : 0;
          ready.get(x).add(new int[] {e.mb, e.task, cls, mbs.get(e.mb).id()});
          continue;
        }
        busy[x] = false;
        if (taskKind[e.mb][e.task] == Span.Kind.BWD) {
          held[x]--;
        }
        int next = e.task + 1;
        if (next == taskNode[e.mb].length) {
          finished++;
          makespan = Math.max(makespan, now);
          continue;
        }
        int y = taskNode[e.mb][next];
        long arrive = now;
        if (y != x) {
          long start = now;
          if (linkFree != null) {
            start = Math.max(now, linkFree[x][y]);
            linkFree[x][y] = start + costs.linkBusyMicros(x, y);
          }
          arrive = start + costs.hopMicros(x, y);
          spans.add(new Span(x, stageOf[x], mbs.get(e.mb).id(), Span.Kind.SEND, now, arrive));
        }
        events.add(new Event(arrive, seq[0]++, ARRIVE, e.mb, next));
      }
      for (int x = 0; x < n; x++) {
        if (busy[x] || ready.get(x).isEmpty()) {
          continue;
        }
        int[] pick = pick(ready.get(x), held[x] < costs.memory(x));
        if (pick == null) {
          continue;
        }
        Span.Kind kind = taskKind[pick[0]][pick[1]];
        long dur = switch (kind) {
          case FWD -> costs.forwardMicros(x);
          case BWD -> costs.backwardMicros(x);
          default -> costs.lossMicros(x);
        };
        if (kind == Span.Kind.FWD) {
          held[x]++;
        }
        busy[x] = true;
        busyMicros[x] += dur;
        spans.add(new Span(x, stageOf[x], mbs.get(pick[0]).id(), kind, now, now + dur));
        events.add(new Event(now + dur, seq[0]++, DONE, pick[0], pick[1]));
      }
    }
    boolean deadlocked = finished < m;
    double[] busyFraction = new double[n];
    for (int x = 0; x < n; x++) {
      busyFraction[x] = makespan == 0 ? 0 : (double) busyMicros[x] / makespan;
    }
    return new SimulationResult(deadlocked ? Long.MAX_VALUE : makespan, busyFraction,
        List.copyOf(spans), deadlocked, m);
  }

  /** Removes and returns the best startable task; a forward is startable only with free memory. */
  private static int[] pick(PriorityQueue<int[]> ready, boolean memoryFree) {
    int[] head = ready.peek();
    if (head[2] == 0 || memoryFree) {
      return ready.poll();
    }
    return null; // only forwards are ready (backward class sorts first) and memory is full
  }
}
