package io.skippipe.scheduler.simulate;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.route.Microbatch;
import io.skippipe.scheduler.route.Schedule;
import io.skippipe.scheduler.timeline.Span;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A discrete-event simulator of one training iteration (DESIGN.md §4, §8): the ground-truth
 * metric every method is compared on.
 *
 * <p><b>Pipeline.</b> Each microbatch runs the task chain FWD on every path node, LOSS at its data
 * node, then BWD on the path nodes in reverse; consecutive tasks on different nodes are separated
 * by the hop time. Rules: a node computes one task at a time and never preempts; it holds at most
 * {@code memory} activations (a FWD takes one, the BWD on the same node returns it, the LOSS takes
 * none), so a FWD that finds the node full waits for a BWD; among ready tasks it picks by
 * {@link ReadyOrder} (loss, then backward, then forward; ties on the smaller microbatch id). All
 * events of one instant are applied before any node picks its next task. With {@code
 * linkContention} a hop first waits until its directed link has finished the previous transfer's
 * bytes. Unlike the reference's one-second buckets (spec §5) there are no polling steps, no
 * per-task gaps and no slot locks: a microbatch becomes ready at its data node at its release
 * time.
 *
 * <p><b>After the pipeline</b>, as the runtime does it ({@code ScheduleFollower}, {@code
 * RingAllReduce}):
 * <ol>
 *   <li><b>Stage all-reduce</b>: the replicas of a stage, in the stage list's order as the ring,
 *       run the ring algorithm (Patarasuk and Yuan 2009): the gradient of {@code G} bytes is cut
 *       into n segments; in each of the {@code 2(n−1)} steps every replica sends one segment
 *       (≈ G/n bytes) to its successor and waits for its predecessor's. Replica r starts when its
 *       own pipeline work is done and finishes step k at {@code max(its step k−1 end, its
 *       predecessor's step k−1 end + message(pred→r, segment bytes))}. With equal start times and
 *       equal links this is {@code 2(n−1)·(latency + hopOverhead) + 2(n−1)/n·G/bandwidth}; with
 *       unequal links each step waits for the slowest link of the ring.
 *   <li><b>Scalar exchange</b>: each node sends {@link CostModel#SCALAR_BYTES} to every other live
 *       node of the plan when its all-reduce is done and waits for all of theirs.
 *   <li><b>Optimizer step</b>: {@link CostModel#optimizerMicros}.
 * </ol>
 * The iteration ends when the last node has stepped.
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
    int n = costs.size();
    int[] stageOf = schedule.stageOf(n);
    List<Microbatch> mbs = schedule.microbatches();
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
          int cls = ReadyOrder.rank(taskKind[e.mb][e.task]);
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
    if (deadlocked) {
      return new SimulationResult(Long.MAX_VALUE, Long.MAX_VALUE, busyFraction,
          List.copyOf(spans), true, m);
    }
    long[] pipelineEnd = new long[n];
    for (Span sp : spans) {
      if (sp.isCompute()) {
        pipelineEnd[sp.node()] = Math.max(pipelineEnd[sp.node()], sp.endMicros());
      }
    }
    long iteration = afterPipeline(schedule.stages(), costs, pipelineEnd, spans);
    return new SimulationResult(makespan, iteration, busyFraction, List.copyOf(spans), false, m);
  }

  /**
   * The stage all-reduces, the scalar exchange and the optimizer steps after the pipeline (class
   * comment); adds ALLREDUCE and WAIT spans and returns the iteration's end.
   *
   * @param pipelineEnd per node, when its last pipeline task ends (0 when it has none)
   */
  static long afterPipeline(List<List<Integer>> stages, CostModel costs, long[] pipelineEnd,
      List<Span> spans) {
    long[] ready = pipelineEnd.clone();
    for (int s = 0; s < stages.size(); s++) {
      List<Integer> ring = stages.get(s);
      long[] done = ringAllReduce(ring, costs, costs.gradientBytes(s), pipelineEnd);
      for (int r = 0; r < ring.size(); r++) {
        int x = ring.get(r);
        ready[x] = done[r];
        if (ring.size() > 1) {
          spans.add(new Span(x, s, -1, Span.Kind.ALLREDUCE, pipelineEnd[x], done[r]));
        }
      }
    }
    long end = 0;
    for (int s = 0; s < stages.size(); s++) {
      for (int y : stages.get(s)) {
        long got = ready[y];
        for (List<Integer> other : stages) {
          for (int x : other) {
            if (x != y) {
              got = Math.max(got, ready[x] + costs.messageMicros(x, y, CostModel.SCALAR_BYTES));
            }
          }
        }
        spans.add(new Span(y, s, -1, Span.Kind.WAIT, ready[y], got));
        end = Math.max(end, got + costs.optimizerMicros(y, s));
      }
    }
    return end;
  }

  /**
   * When each replica of {@code ring} finishes the ring all-reduce of {@code gradientBytes}
   * (class comment), given when each finished its pipeline work. Segment i holds elements
   * {@code [len·i/n, len·(i+1)/n)} of the {@code len = gradientBytes/4} floats, as the runtime
   * cuts them; in reduce-scatter step k replica r sends segment {@code (r−k) mod n}, in
   * all-gather step k segment {@code (r+1−k) mod n}.
   */
  static long[] ringAllReduce(List<Integer> ring, CostModel costs, long gradientBytes,
      long[] pipelineEnd) {
    int n = ring.size();
    long[] t = new long[n];
    for (int r = 0; r < n; r++) {
      t[r] = pipelineEnd[ring.get(r)];
    }
    if (n == 1) {
      return t;
    }
    long len = gradientBytes / 4;
    for (int k = 0; k < 2 * (n - 1); k++) {
      long[] next = new long[n];
      for (int r = 0; r < n; r++) {
        int prev = (r - 1 + n) % n;
        int seg = k < n - 1 ? Math.floorMod(prev - k, n) : Math.floorMod(prev + 1 - (k - n + 1), n);
        long bytes = 4 * (len * (seg + 1) / n - len * seg / n);
        long arrive = t[prev] + costs.messageMicros(ring.get(prev), ring.get(r), bytes);
        next[r] = Math.max(t[r], arrive);
      }
      t = next;
    }
    return t;
  }

  /**
   * The all-reduce of {@code gradientBytes} over {@code ring} when every replica starts at once:
   * the latest replica's end of the ring recurrence (class comment), microseconds. With equal
   * links, {@code 2(n−1)·(latency + hopOverhead) + 2(n−1)/n·G/bandwidth}; 0 for one replica. The
   * runtime's padded emulation pads each replica's all-reduce to it.
   */
  public static long ringAllReduceMicros(List<Integer> ring, CostModel costs,
      long gradientBytes) {
    long[] done = ringAllReduce(ring, costs, gradientBytes, new long[costs.size()]);
    return java.util.Arrays.stream(done).max().orElse(0);
  }

  /** Removes and returns the best startable task; a forward is startable only with free memory. */
  private static int[] pick(PriorityQueue<int[]> ready, boolean memoryFree) {
    int[] head = ready.peek();
    if (head[2] < ReadyOrder.rank(Span.Kind.FWD) || memoryFree) {
      return ready.poll();
    }
    return null; // only forwards are ready (they sort last) and memory is full
  }
}
