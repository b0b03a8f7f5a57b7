package io.skippipe.scheduler.cost;

import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;

/**
 * Durations of every task and message, per node and node pair, in microseconds (spec §1.2–§1.4).
 *
 * <p>Forward of one microbatch on node x: {@code w[x] = computeSecondsPerSampleLayer ×
 * layersPerStage × samplesPerMicrobatch / speed[x]}; backward {@code 1.5·w[x]}, or with the
 * model's activation checkpointing {@code (1.5 + 1)·w[x]} ({@link #BACKWARD_FACTOR},
 * {@link #RECOMPUTE_FACTOR}); loss at the data node {@code w[d]/4}. A message of {@code b} bytes from x to y takes {@code latency +
 * hopOverhead + b/bandwidth} ({@link #messageMicros}); a pipeline hop (activation forward,
 * gradient backward, same size) is the message of one microbatch's activation bytes
 * ({@link #hopMicros}). Each duration is rounded once to whole microseconds, so event times add up
 * exactly.
 *
 * <p>After the pipeline (DESIGN.md §8): each stage all-reduces {@link #gradientBytes} per replica
 * (fp32 gradients of the stage's parameters), every node exchanges a 32-byte scalar record with
 * every other ({@link #SCALAR_BYTES}) and steps its optimizer ({@link #optimizerMicros}: the
 * profile's {@code optimizerSecondsPerParameter} × the stage's parameters / speed).
 *
 * <p>Memory: node x holds {@code model.microbatchesHeld(memoryMicrobatches[x])} microbatches between
 * forward and backward ({@link ModelSpec#microbatchesHeld}: the profile's count, or more under
 * activation checkpointing).
 */
public final class CostModel {
  /** Payload of the end-of-iteration scalar record: stage, Σg², loss sum, loss count (4 × 8 B). */
  public static final long SCALAR_BYTES = 32;

  /** Backward over forward seconds of one microbatch on one stage (spec §1.2). */
  public static final double BACKWARD_FACTOR = 1.5;

  /**
   * Forwards the backward adds under activation checkpointing: {@code StageModel.backward}
   * recomputes the stage's forward from the kept stage input once ({@code StageModel.recompute}:
   * stage 0's embedding lookup and the stage's {@code layersPerStage} decoder layers, the work the
   * forward task {@code w[x]} stands for); the loss task (final norm, LM head) keeps its own graph
   * and is not recomputed.
   */
  public static final double RECOMPUTE_FACTOR = 1.0;

  private final long[] forwardMicros;
  private final long[] backwardMicros;
  private final long[] lossMicros;
  private final long[][] hopMicros;
  private final long[][] linkBusyMicros;
  private final double[][] latencySeconds;
  private final double[][] bytesPerSecond;
  private final int[] memory;
  private final boolean[] live;
  private final double[] optimizerSecondsPerParameter;
  private final long[] stageParameters;
  private final long[] stageGradientBytes;
  private final boolean linkContention;
  private final double dpFactor;

  private CostModel(double[] forwardSeconds, double[][] latencySeconds, double[][] bytesPerSecond,
      long activationBytes, boolean busyFromBandwidth, int[] memory, boolean[] live,
      double[] optimizerSecondsPerParameter, long[] stageParameters, long[] stageGradientBytes,
      boolean linkContention, double dpFactor, double backwardFactor) {
    int n = forwardSeconds.length;
    if (latencySeconds.length != n || bytesPerSecond.length != n || memory.length != n) {
      throw new IllegalArgumentException("cost arrays disagree on the node count " + n);
    }
    this.forwardMicros = new long[n];
    this.backwardMicros = new long[n];
    this.lossMicros = new long[n];
    this.hopMicros = new long[n][n];
    this.linkBusyMicros = new long[n][n];
    this.latencySeconds = new double[n][];
    this.bytesPerSecond = new double[n][];
    for (int x = 0; x < n; x++) {
      forwardMicros[x] = micros(forwardSeconds[x]);
      backwardMicros[x] = micros(backwardFactor * forwardSeconds[x]);
      lossMicros[x] = micros(forwardSeconds[x] / 4.0);
      this.latencySeconds[x] = latencySeconds[x].clone();
      this.bytesPerSecond[x] = bytesPerSecond[x].clone();
      for (int y = 0; y < n; y++) {
        hopMicros[x][y] = x == y ? 0
            : micros(latencySeconds[x][y] + activationBytes / bytesPerSecond[x][y]);
        linkBusyMicros[x][y] = x == y || !busyFromBandwidth ? 0
            : micros(activationBytes / bytesPerSecond[x][y]);
      }
    }
    this.memory = memory.clone();
    this.live = live.clone();
    this.optimizerSecondsPerParameter = optimizerSecondsPerParameter.clone();
    this.stageParameters = stageParameters.clone();
    this.stageGradientBytes = stageGradientBytes.clone();
    this.linkContention = linkContention;
    this.dpFactor = dpFactor;
  }

  /** The cost model of a cluster running a model (DESIGN.md §4). */
  public static CostModel of(ClusterProfile profile, ModelSpec model) {
    int n = profile.size();
    long bytes = model.activationBytesPerMicrobatch();
    double[] fwd = new double[n];
    double[][] lat = new double[n][n];
    double[][] bw = new double[n][n];
    int[] mem = new int[n];
    boolean[] live = new boolean[n];
    double[] opt = new double[n];
    for (Node x : profile.nodes()) {
      fwd[x.id()] = profile.computeSecondsPerSampleLayer() * model.layersPerStage()
          * model.samplesPerMicrobatch() / x.speed();
      mem[x.id()] = model.microbatchesHeld(x.memoryMicrobatches());
      live[x.id()] = !x.lost();
      opt[x.id()] = profile.optimizerSecondsPerParameter() / x.speed();
      for (Node y : profile.nodes()) {
        Link link = profile.link(x.location(), y.location());
        lat[x.id()][y.id()] = link.latencyMs() / 1000.0 + profile.hopOverheadSeconds();
        bw[x.id()][y.id()] = link.bandwidthGBps() * Link.GIB;
      }
    }
    long[] params = new long[model.stages()];
    long[] grads = new long[model.stages()];
    for (int s = 0; s < params.length; s++) {
      params[s] = model.parametersOfStage(s);
      grads[s] = model.gradientBytesOfStage(s);
    }
    return new CostModel(fwd, lat, bw, bytes, true, mem, live, opt, params, grads,
        profile.linkContention(), dpFactor(model), backwardFactor(model));
  }

  /**
   * A cost model from raw numbers: forward seconds per node and hop seconds per pair (hand-checked
   * cases, tests, the network-oblivious unit graph). Links are not contended and have unlimited
   * bandwidth (any message takes the pair's hop seconds), stages hold no parameters (their
   * all-reduce is latency only, the optimizer step free); memory as given.
   */
  public static CostModel ofSeconds(double[] forwardSeconds, double[][] hopSeconds, int[] memory) {
    int n = forwardSeconds.length;
    double[][] bw = new double[n][n];
    for (double[] row : bw) {
      java.util.Arrays.fill(row, Double.POSITIVE_INFINITY);
    }
    boolean[] live = new boolean[n];
    java.util.Arrays.fill(live, true);
    return new CostModel(forwardSeconds, hopSeconds, bw, 0, false, memory, live, new double[n],
        new long[0], new long[0], false, 1.0, BACKWARD_FACTOR);
  }

  /**
   * Backward seconds over forward seconds under the model's setting: {@link #BACKWARD_FACTOR}, plus
   * {@link #RECOMPUTE_FACTOR} with activation checkpointing.
   */
  public static double backwardFactor(ModelSpec m) {
    return BACKWARD_FACTOR + (m.activationCheckpointing() ? RECOMPUTE_FACTOR : 0);
  }

  /**
   * FACTOR of spec §1.4: bytes of one stage's gradient all-reduce (fp32, 4·layersPerStage·params
   * per layer) over the bytes of one data node's microbatch activations per iteration. Weighs
   * data-parallel against pipeline communication in GCMA.
   */
  public static double dpFactor(ModelSpec m) {
    double dpBytes = 4.0 * m.layersPerStage() * m.parametersPerLayer();
    return dpBytes / ((double) m.activationBytesPerMicrobatch() * m.microbatchesPerDataNode());
  }

  private static long micros(double seconds) {
    if (!(seconds >= 0) || seconds > 1e12) {
      throw new IllegalArgumentException("duration " + seconds + " s is not a valid cost");
    }
    return Math.round(seconds * 1e6);
  }

  /** Nodes, lost ones included. */
  public int size() {
    return forwardMicros.length;
  }

  public long forwardMicros(int node) {
    return forwardMicros[node];
  }

  public long backwardMicros(int node) {
    return backwardMicros[node];
  }

  public long lossMicros(int node) {
    return lossMicros[node];
  }

  /** Time from the end of a task on {@code from} until its output is ready on {@code to}. */
  public long hopMicros(int from, int to) {
    return hopMicros[from][to];
  }

  /** How long a transfer occupies the directed link (bytes/bandwidth), for link contention. */
  public long linkBusyMicros(int from, int to) {
    return linkBusyMicros[from][to];
  }

  /**
   * Microseconds for a message of {@code bytes} from {@code from} to {@code to}: latency + hop
   * overhead + bytes/bandwidth, rounded once; 0 on one node.
   */
  public long messageMicros(int from, int to, long bytes) {
    if (from == to) {
      return 0;
    }
    return micros(latencySeconds[from][to] + bytes / bytesPerSecond[from][to]);
  }

  /** Latency plus hop overhead of the pair, seconds (the size-independent part of a message). */
  public double latencySeconds(int from, int to) {
    return latencySeconds[from][to];
  }

  /** Bandwidth of the pair in bytes per second (infinite for {@link #ofSeconds} models). */
  public double bytesPerSecond(int from, int to) {
    return bytesPerSecond[from][to];
  }

  /** Gradient bytes one replica of {@code stage} all-reduces (0 for {@link #ofSeconds}). */
  public long gradientBytes(int stage) {
    return stage < stageGradientBytes.length ? stageGradientBytes[stage] : 0;
  }

  /** Parameters of {@code stage} (0 for {@link #ofSeconds}). */
  public long stageParameters(int stage) {
    return stage < stageParameters.length ? stageParameters[stage] : 0;
  }

  /** One optimizer step of a replica of {@code stage} on {@code node}. */
  public long optimizerMicros(int node, int stage) {
    return micros(optimizerSecondsPerParameter[node] * stageParameters(stage));
  }

  public int memory(int node) {
    return memory[node];
  }

  /** Whether the node is live (not marked lost in the profile). */
  public boolean isLive(int node) {
    return live[node];
  }

  public boolean linkContention() {
    return linkContention;
  }

  public double dpFactor() {
    return dpFactor;
  }

  /** Hop cost in seconds (for allocators, which work in seconds). */
  public double hopSeconds(int from, int to) {
    return hopMicros[from][to] / 1e6;
  }

  public double forwardSeconds(int node) {
    return forwardMicros[node] / 1e6;
  }

  /**
   * The cost model of the given nodes only, renumbered 0..ids.length-1 in the given order (the
   * allocators work on the live nodes of a shrunken cluster this way).
   */
  public CostModel restrictTo(int[] ids) {
    int n = ids.length;
    double[] f = new double[n];
    double[][] lat = new double[n][n];
    double[][] bw = new double[n][n];
    int[] mem = new int[n];
    boolean[] lv = new boolean[n];
    double[] opt = new double[n];
    for (int i = 0; i < n; i++) {
      f[i] = forwardMicros[ids[i]] / 1e6;
      mem[i] = memory[ids[i]];
      lv[i] = live[ids[i]];
      opt[i] = optimizerSecondsPerParameter[ids[i]];
      for (int j = 0; j < n; j++) {
        lat[i][j] = latencySeconds[ids[i]][ids[j]];
        bw[i][j] = bytesPerSecond[ids[i]][ids[j]];
      }
    }
    CostModel sub = new CostModel(f, lat, bw, 0, false, mem, lv, opt, stageParameters,
        stageGradientBytes, linkContention, dpFactor, BACKWARD_FACTOR);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        sub.hopMicros[i][j] = hopMicros[ids[i]][ids[j]];
        sub.linkBusyMicros[i][j] = linkBusyMicros[ids[i]][ids[j]];
      }
      sub.backwardMicros[i] = backwardMicros[ids[i]];
      sub.lossMicros[i] = lossMicros[ids[i]];
      sub.forwardMicros[i] = forwardMicros[ids[i]];
    }
    return sub;
  }

  /** The same nodes with every forward and every hop costing one second (network-oblivious). */
  public CostModel unitGraph() {
    int n = size();
    double[] f = new double[n];
    double[][] h = new double[n][n];
    for (int x = 0; x < n; x++) {
      f[x] = 1.0;
      for (int y = 0; y < n; y++) {
        h[x][y] = x == y ? 0 : 1.0;
      }
    }
    return ofSeconds(f, h, memory);
  }
}
