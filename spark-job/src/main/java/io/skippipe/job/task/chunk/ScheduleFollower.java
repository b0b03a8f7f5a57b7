package io.skippipe.job.task.chunk;

import io.skippipe.job.collective.RingAllReduce;
import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockHeader;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.Mailbox;
import io.skippipe.model.stage.LossResult;
import io.skippipe.model.stage.NonFiniteException;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.GradientClipping;
import io.skippipe.model.train.TokenBatch;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.timeline.Span;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The per-node iteration engine: follows the plan's microbatch paths (skips and swaps included) on
 * one node, then joins its stage's gradient all-reduce, the global scalar exchange and the AdamW
 * step. One instance per node per chunk; one thread drives it.
 *
 * <p>Per iteration, on node {@code n} of stage {@code s}:
 * <ol>
 *   <li><b>Pipeline</b>. A data node injects its microbatches ({@code forwardTokens}). Every node
 *       runs the ready task with the highest priority, by the rule the simulator follows too
 *       ({@link io.skippipe.scheduler.simulate.ReadyOrder}): a loss first (a microbatch back at its
 *       data node; it starts the microbatch's backward chain), then a backward (it frees memory,
 *       1F1B), then a forward (an injection or a relayed activation), each class lowest
 *       microbatch id first, and a forward only while fewer than the node's
 *       {@code memoryMicrobatches} ({@code ModelSpec.microbatchesHeld}: more under the plan's
 *       activation checkpointing) are in flight (forward done, backward not yet). Outputs go to
 *       the next node on the path ({@code ACTIVATION}) or back to the previous one
 *       ({@code ACTIVATION_GRAD}); the last node of a path sends to the data node, which computes
 *       the loss with scale {@code 1/M} (M = microbatches in the iteration, all data nodes).
 *   <li><b>Gradient all-reduce</b> among the stage's replicas: the ring <i>sum</i> of the gradients
 *       each replica accumulated. Each replica's sum over the microbatches it saw equals its mean
 *       gradient weighted by that count, so the result is exactly the single-process gradient
 *       ({@code PathTrainer}) whatever the split.
 *   <li><b>Scalars</b>: every node sends (stage, gradient sum of squares, loss sum, loss count) to
 *       every other node; each then knows the global gradient norm (one value per stage) and the
 *       mean loss. This exchange is also the end-of-iteration barrier.
 *   <li><b>Step</b>: AdamW with {@code clip = min(1, maxNorm/(norm+1e-6))}.
 * </ol>
 *
 * <p>A plan whose simulator schedule respects the memory caps can still deadlock here when real
 * timings differ a lot from the modelled ones; then the wait times out naming the awaited nodes.
 */
public final class ScheduleFollower {
  /** Supplies a data node's microbatch tokens ({@code B·(T+1)} ids) for an iteration. */
  public interface MicrobatchSource {
    int[] tokens(int iteration, int microbatch);
  }

  /** Per-chunk settings of the engine. */
  public record Settings(double maxGradNorm, long timeoutMillis, boolean padCompute,
      double timeScale) {}

  /**
   * What the runtime around the engine observes.
   *
   * @param padCosts the cost model compute and all-reduce are padded to (the emulated network's;
   *     null = the plan's)
   * @param beforeStep called right before the optimizer changes the weights
   * @param timings receives the send and blocked-arrival times of pipeline messages
   */
  public record Hooks(CostModel padCosts, Runnable beforeStep, Consumer<MessageTiming> timings) {
    /** No padding model of its own, no callbacks. */
    public static Hooks none() {
      return new Hooks(null, () -> { }, t -> { });
    }
  }

  private final Plan plan;
  private final int node;
  private final int stageIndex;
  private final StageModel stage;
  private final AdamW optimizer;
  private final Mailbox box;
  private final Settings settings;
  private final int memoryCap;
  private final int seqLen;
  private final int totalMicrobatches;
  private final CostModel costs;
  private final long allReduceMicros;
  private final Hooks hooks;
  private final Consumer<Span> spans;
  private final long epochMicros;
  /** Activations cross the wire in the stage's precision (bf16: half the bytes). */
  private final io.skippipe.job.transfer.DType wireType;

  /**
   * @param epochMicros wall-clock micros that spans are measured from (same on every node)
   */
  public ScheduleFollower(Plan plan, int node, StageModel stage, AdamW optimizer, Mailbox box,
      Settings settings, Consumer<Span> spans, long epochMicros) {
    this(plan, node, stage, optimizer, box, settings, spans, epochMicros, Hooks.none());
  }

  /**
   * @param epochMicros wall-clock micros that spans are measured from (same on every node)
   * @param hooks padding model and observers ({@link Hooks})
   */
  public ScheduleFollower(Plan plan, int node, StageModel stage, AdamW optimizer, Mailbox box,
      Settings settings, Consumer<Span> spans, long epochMicros, Hooks hooks) {
    this.plan = plan;
    this.hooks = hooks;
    this.node = node;
    this.stageIndex = plan.stageOf(node);
    if (stageIndex < 0 || stageIndex != stage.stage()) {
      throw new IllegalStateException("node " + node + " serves stage " + stageIndex
          + " in the plan but holds stage " + stage.stage());
    }
    this.stage = stage;
    this.optimizer = optimizer;
    this.box = box;
    this.settings = settings;
    this.memoryCap = plan.model().microbatchesHeld(
        plan.cluster().nodes().get(node).memoryMicrobatches());
    this.seqLen = stage.config().seqLen();
    this.totalMicrobatches = plan.microbatches().size();
    this.costs = hooks.padCosts() != null ? hooks.padCosts()
        : CostModel.of(plan.cluster(), plan.model());
    this.allReduceMicros = io.skippipe.scheduler.simulate.Simulator.ringAllReduceMicros(
        plan.stages().get(stageIndex), costs, costs.gradientBytes(stageIndex));
    this.spans = spans;
    this.epochMicros = epochMicros;
    this.wireType = stage.options().precision() == io.skippipe.model.stage.Precision.BF16
        ? io.skippipe.job.transfer.DType.BF16 : io.skippipe.job.transfer.DType.FLOAT32;
  }

  private static final long BASE_WALL_MICROS = System.currentTimeMillis() * 1000L;
  private static final long BASE_NANOS = System.nanoTime();

  /** Wall-clock microseconds, monotonic within a JVM (wall clock at class load + nanoTime). */
  public static long nowMicros() {
    return BASE_WALL_MICROS + (System.nanoTime() - BASE_NANOS) / 1000L;
  }

  private long rel(long wallMicros) {
    return wallMicros - epochMicros;
  }

  /** Timing accumulators of one iteration. */
  private static final class Clock {
    long busy;
    long wait;
  }

  /** Runs one iteration on this node; returns its stats (global values filled in). */
  public NodeIterationStats runIteration(int iteration, double lr, MicrobatchSource data)
      throws IOException, InterruptedException {
    long start = nowMicros();
    Clock clock = new Clock();
    stage.zeroGradients(plan.microbatchesThrough(node).stream().map(PlannedMicrobatch::id).toList());
    double[] loss = pipeline(iteration, data, clock);
    long pipelineEnd = nowMicros();
    // gradient all-reduce among the stage's replicas
    List<Integer> replicas = plan.stages().get(stageIndex);
    if (replicas.size() > 1) {
      double localSumSq = stage.gradientSumOfSquares();
      if (!Double.isFinite(localSumSq)) {
        throw new IllegalStateException("node " + node + " (stage " + stageIndex + "): local"
            + " gradient sum of squares is " + localSumSq + " before the all-reduce of iteration "
            + iteration);
      }
      long t0 = nowMicros();
      float[] summed = RingAllReduce.sum(box, replicas, iteration, stage.flatGradients(),
          settings.timeoutMillis());
      stage.setFlatGradients(summed);
      pad(t0, allReduceMicros); // padded emulation: the modelled ring of the plan's gradient bytes
      long t1 = nowMicros();
      clock.wait += t1 - t0;
      spans.accept(new Span(node, stageIndex, -1, Span.Kind.ALLREDUCE, rel(t0), rel(t1)));
    }
    // scalar exchange: global gradient norm and mean loss
    double sumSq = stage.gradientSumOfSquares();
    if (!Double.isFinite(sumSq)) {
      throw new IllegalStateException("node " + node + " (stage " + stageIndex + "): gradient sum"
          + " of squares is " + sumSq + " after iteration " + iteration + "'s backward passes"
          + (replicas.size() > 1 ? " and the all-reduce" : ""));
    }
    long t0 = nowMicros();
    double[] global = exchangeScalars(iteration, sumSq, loss[0], (int) loss[1]);
    long t1 = nowMicros();
    clock.wait += t1 - t0;
    spans.accept(new Span(node, stageIndex, -1, Span.Kind.WAIT, rel(t0), rel(t1)));
    double clip = GradientClipping.clipScale(global[0], settings.maxGradNorm());
    hooks.beforeStep().run();
    optimizer.step(lr, clip);
    long end = nowMicros();
    double[] stageNorms = new double[plan.stages().size()];
    for (int s = 0; s < stageNorms.length; s++) {
      stageNorms[s] = Math.sqrt(global[2 + s]) * clip;
    }
    return new NodeIterationStats(node, stageIndex, iteration, loss[0], (int) loss[1], global[1],
        global[0], clock.busy, clock.wait, end - start, start, pipelineEnd - start, lr,
        stageNorms);
  }

  /** Phase 1; returns {lossSum, lossCount} of this node's own microbatches. */
  private double[] pipeline(int iteration, MicrobatchSource data, Clock clock)
      throws IOException, InterruptedException {
    List<PlannedMicrobatch> through = plan.microbatchesThrough(node);
    Map<Integer, PlannedMicrobatch> byId = new HashMap<>();
    for (PlannedMicrobatch m : plan.microbatches()) {
      byId.put(m.id(), m);
    }
    TreeSet<Integer> toInject = new TreeSet<>();
    for (PlannedMicrobatch m : plan.microbatchesOf(node)) {
      toInject.add(m.id());
    }
    // received (or, on a one-node path, locally made) blocks, closed once consumed
    TreeMap<Integer, Block> forwards = new TreeMap<>();
    TreeMap<Integer, Block> losses = new TreeMap<>();
    TreeMap<Integer, Block> backwards = new TreeMap<>();
    Map<Integer, int[]> targets = new HashMap<>();
    TreeSet<Integer> inFlight = new TreeSet<>();
    int done = 0;
    double lossSum = 0;
    int lossCount = 0;
    float lossScale = 1.0f / totalMicrobatches;
    while (done < through.size()) {
      Block b;
      while ((b = box.tryTake(x -> pipelineBlock(x, iteration))) != null) {
        classify(b, forwards, losses, backwards);
      }
      // io.skippipe.scheduler.simulate.ReadyOrder: loss, then backward, then forward
      if (!losses.isEmpty()) {
        Map.Entry<Integer, Block> e = losses.pollFirstEntry();
        int mb = e.getKey();
        PlannedMicrobatch m = byId.get(mb);
        long t0 = nowMicros();
        int[] y = targets.remove(mb);
        LossResult<ByteBuffer> r;
        try (Block hidden = e.getValue()) {
          r = onStage(() -> stage.lossAndBackwardStart(mb, hidden.buffer(), y, lossScale,
              Block::allocatePayload));
        }
        pad(t0, costs.lossMicros(node));
        long t1 = nowMicros();
        clock.busy += t1 - t0;
        spans.accept(new Span(node, stageIndex, mb, Span.Kind.LOSS, rel(t0), rel(t1)));
        if (!Float.isFinite(r.loss())) {
          throw new IllegalStateException("node " + node + ": loss of microbatch " + mb + " is "
              + r.loss());
        }
        lossSum += r.loss();
        lossCount++;
        List<Integer> path = m.path();
        int to = path.size() == 1 ? node : path.get(path.size() - 1);
        Block g = block(BlockType.ACTIVATION_GRAD, iteration, mb, to, r.gradHidden());
        if (to == node) {
          backwards.put(mb, g);
        } else {
          send(g);
        }
      } else if (!backwards.isEmpty()) {
        Map.Entry<Integer, Block> e = backwards.pollFirstEntry();
        int mb = e.getKey();
        PlannedMicrobatch m = byId.get(mb);
        long t0 = nowMicros();
        ByteBuffer g;
        try (Block gradOut = e.getValue()) {
          g = onStage(() -> stage.backward(mb, gradOut.buffer(), Block::allocatePayload));
        }
        pad(t0, costs.backwardMicros(node));
        long t1 = nowMicros();
        clock.busy += t1 - t0;
        spans.accept(new Span(node, stageIndex, mb, Span.Kind.BWD, rel(t0), rel(t1)));
        inFlight.remove(mb);
        done++;
        int pos = m.path().indexOf(node);
        if (pos > 0) {
          send(block(BlockType.ACTIVATION_GRAD, iteration, mb, m.path().get(pos - 1), g));
        }
      } else if (inFlight.size() < memoryCap && (!forwards.isEmpty() || !toInject.isEmpty())) {
        int relayed = forwards.isEmpty() ? Integer.MAX_VALUE : forwards.firstKey();
        int injected = toInject.isEmpty() ? Integer.MAX_VALUE : toInject.first();
        int mb = Math.min(relayed, injected);
        PlannedMicrobatch m = byId.get(mb);
        long t0 = nowMicros();
        ByteBuffer h;
        if (mb == injected) {
          toInject.remove(mb);
          TokenBatch batch = TokenBatch.of(data.tokens(iteration, mb), seqLen);
          targets.put(mb, batch.targets());
          h = onStage(() -> stage.forwardTokens(mb, batch.inputIds(), Block::allocatePayload));
        } else {
          try (Block in = forwards.remove(mb)) {
            h = onStage(() -> stage.forward(mb, in.buffer(), Block::allocatePayload));
          }
        }
        pad(t0, costs.forwardMicros(node));
        long t1 = nowMicros();
        clock.busy += t1 - t0;
        spans.accept(new Span(node, stageIndex, mb, Span.Kind.FWD, rel(t0), rel(t1)));
        inFlight.add(mb);
        List<Integer> path = m.path();
        int pos = path.indexOf(node);
        int to = pos < path.size() - 1 ? path.get(pos + 1) : m.dataNode();
        Block out = block(BlockType.ACTIVATION, iteration, mb, to, h);
        if (to == node) {
          losses.put(mb, out); // a path of the data node alone
        } else {
          send(out);
        }
      } else {
        long t0 = nowMicros();
        int left = through.size() - done;
        String inFlightNow = inFlight.toString();
        Block next = box.take(x -> pipelineBlock(x, iteration), settings.timeoutMillis(),
            suspect(inFlight, byId), () -> "activations or gradients of iteration " + iteration
                + " (in flight here: " + inFlightNow + ", backwards still to do: " + left + ")");
        long t1 = nowMicros();
        clock.wait += t1 - t0;
        spans.accept(new Span(node, stageIndex, -1, Span.Kind.WAIT, rel(t0), rel(t1)));
        hooks.timings().accept(new MessageTiming(next.header().from(), node, iteration,
            next.header().microbatch(), next.type() == BlockType.ACTIVATION_GRAD,
            next.header().payloadBytes(), -1, t1));
        classify(next, forwards, losses, backwards);
      }
    }
    return new double[] {lossSum, lossCount};
  }

  /**
   * Runs a stage call; a {@link NonFiniteException} (a NaN or infinity about to leave the stage,
   * checked in libtorch) is rethrown naming this node.
   */
  private <T> T onStage(Supplier<T> call) {
    try {
      return call.get();
    } catch (NonFiniteException e) {
      throw new IllegalStateException("node " + node + " (stage " + e.stage() + "): "
          + e.problem(), e);
    }
  }

  private boolean pipelineBlock(Block b, int iteration) {
    return b.header().iteration() == iteration
        && (b.type() == BlockType.ACTIVATION || b.type() == BlockType.ACTIVATION_GRAD);
  }

  /** Files a received block by what it starts here; it is closed when that task consumes it. */
  private void classify(Block b, Map<Integer, Block> forwards, Map<Integer, Block> losses,
      Map<Integer, Block> backwards) {
    int mb = b.header().microbatch();
    if (b.type() == BlockType.ACTIVATION_GRAD) {
      backwards.put(mb, b);
    } else if (plan.dataNodes().contains(node)) {
      losses.put(mb, b); // data nodes are only ever visited first: this is a return
    } else {
      forwards.put(mb, b);
    }
  }

  /** The node most likely holding us up: next hop of the oldest microbatch in flight here. */
  private int suspect(TreeSet<Integer> inFlight, Map<Integer, PlannedMicrobatch> byId) {
    if (inFlight.isEmpty()) {
      return -1;
    }
    List<Integer> path = byId.get(inFlight.first()).path();
    int pos = path.indexOf(node);
    return pos == path.size() - 1 ? path.get(0) : path.get(pos + 1);
  }

  /**
   * A {@code [B,T,D]} activation (or gradient) block around {@code payload}, a pooled buffer the
   * stage filled in the wire type ({@link Block#allocatePayload}); no copy.
   */
  private Block block(BlockType type, int iteration, int mb, int to, ByteBuffer payload) {
    long d = plan.model().dim();
    long bt = payload.remaining() / wireType.bytesPerElement() / d;
    return Block.ofPooled(type, wireType, box.transport().run(), iteration, mb, node, to, payload,
        bt / seqLen, seqLen, d);
  }

  private void send(Block block) throws IOException {
    BlockHeader h = block.header();
    hooks.timings().accept(new MessageTiming(node, h.to(), h.iteration(), h.microbatch(),
        block.type() == BlockType.ACTIVATION_GRAD, h.payloadBytes(), nowMicros(), -1));
    ActivationTraffic.sent(h.payloadBytes());
    box.transport().send(block);
  }

  /**
   * Sleeps until {@code modelledMicros × timeScale} have passed since {@code t0} (padCompute):
   * compute tasks to the cost model's durations, the stage all-reduce to the simulator's ring of
   * the plan's gradient bytes ({@code Simulator.ringAllReduceMicros}).
   */
  private void pad(long t0, long modelledMicros) throws InterruptedException {
    if (!settings.padCompute()) {
      return;
    }
    long target = t0 + (long) (modelledMicros * settings.timeScale());
    long left = target - nowMicros();
    if (left > 0) {
      Thread.sleep(left / 1000, (int) (left % 1000) * 1000);
    }
  }

  /** Phase 3: returns {global gradient norm, mean loss, stage 0's sum of squares, stage 1's, ...}. */
  private double[] exchangeScalars(int iteration, double sumSq, double lossSum, int lossCount)
      throws IOException, InterruptedException {
    // doubles travel as FLOAT64 bytes to keep the norm exact
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(32)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    buf.putDouble(stageIndex).putDouble(sumSq).putDouble(lossSum).putDouble(lossCount);
    byte[] payload = buf.array();
    List<Integer> live = plan.liveNodes(); // lost nodes keep their ids but take no part
    for (int other : live) {
      if (other != node) {
        box.transport().send(new Block(BlockType.SCALARS,
            new io.skippipe.job.transfer.BlockHeader(box.transport().run(), iteration, -1, node,
                other, io.skippipe.job.transfer.DType.FLOAT64, new long[] {4}, 32), payload));
      }
    }
    double[] stageSumSq = new double[plan.stages().size()];
    boolean[] have = new boolean[stageSumSq.length];
    stageSumSq[stageIndex] = sumSq;
    have[stageIndex] = true;
    double totalLoss = lossSum;
    long totalCount = lossCount;
    for (int other : live) {
      if (other == node) {
        continue;
      }
      int from = other;
      Block b = box.take(x -> x.type() == BlockType.SCALARS && x.header().iteration() == iteration
              && x.header().from() == from, settings.timeoutMillis(), from,
          () -> "the iteration-" + iteration + " scalars of node " + from);
      java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(b.payload())
          .order(java.nio.ByteOrder.LITTLE_ENDIAN);
      int s = (int) in.getDouble();
      double ss = in.getDouble();
      totalLoss += in.getDouble();
      totalCount += (long) in.getDouble();
      if (!have[s]) {
        stageSumSq[s] = ss;
        have[s] = true;
      }
    }
    double norm = GradientClipping.globalNorm(stageSumSq);
    double[] out = new double[2 + stageSumSq.length];
    out[0] = norm;
    out[1] = totalCount == 0 ? Double.NaN : totalLoss / totalCount;
    System.arraycopy(stageSumSq, 0, out, 2, stageSumSq.length);
    return out;
  }
}
