package io.skippipe.scheduler.cost;

import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;

/**
 * Durations of every task and hop, per node and node pair, in microseconds (spec §1.2–§1.4).
 *
 * <p>Forward of one microbatch on node x: {@code w[x] = computeSecondsPerSampleLayer ×
 * layersPerStage × samplesPerMicrobatch / speed[x]}; backward {@code 1.5·w[x]}; loss at the data
 * node {@code w[d]/4}. A hop x→y (activation forward or gradient backward, same size) takes
 * {@code latency + bytes/bandwidth + hopOverhead}. Each duration is rounded once to whole
 * microseconds, so event times add up exactly.
 */
public final class CostModel {
  private final long[] forwardMicros;
  private final long[] backwardMicros;
  private final long[] lossMicros;
  private final long[][] hopMicros;
  private final long[][] linkBusyMicros;
  private final int[] memory;
  private final boolean linkContention;
  private final double dpFactor;

  private CostModel(double[] forwardSeconds, double[][] hopSeconds, double[][] linkBusySeconds,
      int[] memory, boolean linkContention, double dpFactor) {
    int n = forwardSeconds.length;
    if (hopSeconds.length != n || memory.length != n) {
      throw new IllegalArgumentException("cost arrays disagree on the node count " + n);
    }
    this.forwardMicros = new long[n];
    this.backwardMicros = new long[n];
    this.lossMicros = new long[n];
    this.hopMicros = new long[n][n];
    this.linkBusyMicros = new long[n][n];
    for (int x = 0; x < n; x++) {
      forwardMicros[x] = micros(forwardSeconds[x]);
      backwardMicros[x] = micros(1.5 * forwardSeconds[x]);
      lossMicros[x] = micros(forwardSeconds[x] / 4.0);
      for (int y = 0; y < n; y++) {
        hopMicros[x][y] = x == y ? 0 : micros(hopSeconds[x][y]);
        linkBusyMicros[x][y] =
            x == y || linkBusySeconds == null ? 0 : micros(linkBusySeconds[x][y]);
      }
    }
    this.memory = memory.clone();
    this.linkContention = linkContention;
    this.dpFactor = dpFactor;
  }

  /** The cost model of a cluster running a model (DESIGN.md §4). */
  public static CostModel of(ClusterProfile profile, ModelSpec model) {
    int n = profile.size();
    long bytes = model.activationBytesPerMicrobatch();
    double[] fwd = new double[n];
    double[][] hop = new double[n][n];
    double[][] busy = new double[n][n];
    int[] mem = new int[n];
    for (Node x : profile.nodes()) {
      fwd[x.id()] = profile.computeSecondsPerSampleLayer() * model.layersPerStage()
          * model.samplesPerMicrobatch() / x.speed();
      mem[x.id()] = x.memoryMicrobatches();
      for (Node y : profile.nodes()) {
        Link link = profile.link(x.location(), y.location());
        hop[x.id()][y.id()] = link.transferSeconds(bytes) + profile.hopOverheadSeconds();
        busy[x.id()][y.id()] = bytes / (link.bandwidthGBps() * Link.GIB);
      }
    }
    return new CostModel(fwd, hop, busy, mem, profile.linkContention(), dpFactor(model));
  }

  /**
   * A cost model from raw numbers: forward seconds per node and hop seconds per pair (hand-checked
   * cases, tests, the network-oblivious unit graph). Links are not contended; memory as given.
   */
  public static CostModel ofSeconds(double[] forwardSeconds, double[][] hopSeconds, int[] memory) {
    return new CostModel(forwardSeconds, hopSeconds, null, memory, false, 1.0);
  }

  /**
   * FACTOR of spec §1.4: bytes of one stage's gradient all-reduce (fp32, 4·layersPerStage·params
   * per layer) over the bytes of one data node's microbatch activations per iteration. Weighs
   * data-parallel against pipeline communication in the allocator.
   */
  public static double dpFactor(ModelSpec m) {
    long headDim = m.dim() / m.heads();
    long paramsPerLayer = 2L * m.dim() * m.dim() + 2L * m.dim() * m.kvHeads() * headDim
        + 3L * m.dim() * m.ffnDim() + 2L * m.dim();
    double dpBytes = 4.0 * m.layersPerStage() * paramsPerLayer;
    return dpBytes / ((double) m.activationBytesPerMicrobatch() * m.microbatchesPerDataNode());
  }

  private static long micros(double seconds) {
    if (!(seconds >= 0) || seconds > 1e12) {
      throw new IllegalArgumentException("duration " + seconds + " s is not a valid cost");
    }
    return Math.round(seconds * 1e6);
  }

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

  public int memory(int node) {
    return memory[node];
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
