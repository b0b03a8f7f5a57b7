package io.skippipe.job.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockHeader;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.DType;
import io.skippipe.job.transfer.EmulatedLink;
import io.skippipe.job.transfer.LinkModel;
import io.skippipe.job.transfer.TcpBlockServer;
import io.skippipe.job.transfer.TcpBlockTransport;
import io.skippipe.job.transfer.TransferTls;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe bench transfer}: loopback throughput of the block transfer against a raw TCP
 * socket pushing the same bytes, in one process and one run, so their ratio is what counts.
 *
 * <p>Per frame size (default 1–64 MiB) and round, the cases run back to back, each moving
 * {@code --mib-per-case} MiB: the raw socket (a blocking {@link SocketChannel} writing one direct
 * buffer and reading into one, the fastest plain Java path) one way and both ways at once; the
 * block transfer — framing, CRC32C both ends, HMAC-authenticated connection, bounded inbox,
 * a pooled buffer per received frame — one way and both ways, plain and with TLS; the block
 * transfer fed from and into {@code float[]} ({@link Block#ofFloats} / {@link Block#floats}, the
 * array API's two bulk copies); and both ways through an {@link EmulatedLink} of
 * {@code --link-mbps} and {@code --link-latency-ms}, whose fidelity is measured against the
 * modelled throughput. Ratios are medians over {@code --rounds}.
 *
 * <p>Besides wall-clock throughput, each one-way case records the process's CPU seconds per GB
 * moved (all threads, user and kernel): on a shared machine the wall clock measures the
 * neighbours as much as the code, while the CPU a GB costs does not depend on them;
 * {@code cpuFraction} = raw CPU / ours.
 */
@Command(name = "transfer", sortOptions = false, sortSynopsis = false,
    description = "Loopback throughput of the block transfer against a raw TCP socket (plain,"
        + " both ways, TLS, float[] API, emulated link), as ratios measured in one run.")
public final class TransferBench implements Callable<Integer> {
  /** MB/s (1 MB = 1e6 bytes) of the two, and their ratio (kept for {@code bench e2e}). */
  public record Result(double blockMBps, double rawSocketMBps, double fraction, long bytes) {}

  /** One-way, unencrypted: {@code messages} frames of {@code floatsPerMessage} floats. */
  public static Result run(int messages, int floatsPerMessage) throws Exception {
    int size = floatsPerMessage * 4;
    double raw = rawMBps(size, messages, false);
    double ours = oursMBps(size, messages, false, false, null);
    return new Result(ours, raw, ours / raw, (long) messages * size);
  }

  @Spec CommandSpec spec;

  @Option(names = "--json", order = 1, description = "Print one JSON object only.")
  boolean json;

  @Option(names = "--sizes", paramLabel = "MIB,MIB,...", split = ",", order = 2,
      description = "Frame sizes in MiB (default: 1,2,4,8,16,32,64).")
  int[] sizesMiB = {1, 2, 4, 8, 16, 32, 64};

  @Option(names = "--mib-per-case", paramLabel = "N", order = 3,
      description = "MiB each case moves per round (default: ${DEFAULT-VALUE}).")
  int mibPerCase = 256;

  @Option(names = "--rounds", paramLabel = "N", order = 4,
      description = "Rounds; ratios are medians (default: ${DEFAULT-VALUE}).")
  int rounds = 3;

  @Option(names = "--link-mbps", paramLabel = "N", order = 5,
      description = "Bandwidth of the emulated link, MB/s (default: ${DEFAULT-VALUE}).")
  double linkMBps = 100;

  @Option(names = "--link-latency-ms", paramLabel = "N", order = 6,
      description = "Latency of the emulated link, ms (default: ${DEFAULT-VALUE}).")
  double linkLatencyMs = 2;

  /** Settings of one bench run, checked. */
  record Options(boolean json, int[] sizesMiB, int mibPerCase, int rounds, double linkMBps,
      double linkLatencyMs) {
    Options {
      for (int s : sizesMiB) {
        if (s < 1 || s > 1024) {
          throw new IllegalArgumentException("--sizes " + s + " MiB: a frame size must be 1 to"
              + " 1024 MiB (what a frame may carry)");
        }
      }
      if (mibPerCase < 1 || rounds < 1 || !(linkMBps > 0)) {
        throw new IllegalArgumentException("--mib-per-case " + mibPerCase + ", --rounds " + rounds
            + " and --link-mbps " + linkMBps + " must be positive");
      }
      if (!(linkLatencyMs >= 0)) {
        throw new IllegalArgumentException("--link-latency-ms must be >= 0, was "
            + linkLatencyMs);
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    Options o = new Options(json, sizesMiB, mibPerCase, rounds, linkMBps, linkLatencyMs);
    PrintWriter out = spec.commandLine().getOut();
    ObjectNode root = measure(o, out);
    out.println(new ObjectMapper().writeValueAsString(root));
    return 0;
  }

  private static final String[] CASES = {"raw", "ours", "rawBoth", "oursBoth", "tls", "tlsBoth",
      "arrays", "emulatedBoth", "emulatedTlsBoth"};

  static ObjectNode measure(Options o, PrintWriter out) throws Exception {
    ObjectMapper m = new ObjectMapper();
    ObjectNode root = m.createObjectNode();
    LinkModel link = LinkModel.uniform(o.linkLatencyMs() / 1e3, o.linkMBps() * 1e6);
    if (!o.json()) {
      out.printf("block transfer vs raw socket, loopback, %d MiB per case, median of %d rounds;"
          + " TLS %s via %s; emulated link %.0f MB/s, %.1f ms%n", o.mibPerCase(), o.rounds(),
          TransferTls.protocol(), TransferTls.provider(), o.linkMBps(), o.linkLatencyMs());
      out.printf("%8s %9s %9s %6s %9s %9s %9s %8s %10s %10s %8s %8s %8s%n", "frame", "raw MB/s",
          "ours MB/s", "frac", "both frac", "tls frac", "tlsBoth", "arrays", "emul/model",
          "emulTls/m", "raw s/GB", "ours s/GB", "tls s/GB");
    }
    // compile the paths before measuring: short runs otherwise time the interpreter and the JIT
    for (int i = 0; i < 3; i++) {
      rawMBps(1 << 20, 64, true);
      oursMBps(1 << 20, 64, false, true, null);
      oursMBps(1 << 20, 64, true, true, null);
      arraysMBps(1 << 20, 32);
    }
    ArrayNode sizes = root.putArray("sizes");
    for (int mib : o.sizesMiB()) {
      int size = mib << 20;
      int count = Math.max(4, o.mibPerCase() / mib);
      double[][] mbps = new double[CASES.length][o.rounds()];
      double[][] cpu = new double[3][o.rounds()]; // CPU s/GB: raw, ours, ours TLS (one way)
      for (int r = 0; r < o.rounds(); r++) {
        mbps[0][r] = rawMBps(size, count, false);
        cpu[0][r] = LAST_CPU_PER_GB.get();
        mbps[1][r] = oursMBps(size, count, false, false, null);
        cpu[1][r] = LAST_CPU_PER_GB.get();
        mbps[2][r] = rawMBps(size, count, true);
        mbps[3][r] = oursMBps(size, count, false, true, null);
        mbps[4][r] = oursMBps(size, count, true, false, null);
        cpu[2][r] = LAST_CPU_PER_GB.get();
        mbps[5][r] = oursMBps(size, count, true, true, null);
        mbps[6][r] = arraysMBps(size, count);
        int emulatedCount = emulatedFrames(o, size);
        mbps[7][r] = oursMBps(size, emulatedCount, false, true, link);
        mbps[8][r] = oursMBps(size, emulatedCount, true, true, link);
      }
      double[] med = new double[CASES.length];
      for (int c = 0; c < CASES.length; c++) {
        med[c] = median(mbps[c]);
      }
      // the model: both directions each carry linkMBps; frames queue on the link, one latency
      double frames = emulatedFrames(o, size);
      double modelSeconds = frames * EmulatedLink.transferSeconds(link, 0, 1, size)
          - (frames - 1) * link.latencySeconds(0, 1);
      double modelMBps = 2 * frames * size / 1e6 / modelSeconds;
      dropBuffers();
      ObjectNode s = sizes.addObject();
      s.put("bytes", size);
      s.put("fraction", ratio(mbps[1], mbps[0]));
      s.put("rawMBps", med[0]);
      s.put("oursMBps", med[1]);
      s.put("bothDirectionsFraction", ratio(mbps[3], mbps[2]));
      s.put("encryptedFraction", ratio(mbps[4], mbps[0]));
      s.put("encryptedBothDirectionsFraction", ratio(mbps[5], mbps[2]));
      s.put("floatArraysFraction", ratio(mbps[6], mbps[0]));
      s.put("emulatedModelMBps", modelMBps);
      s.put("emulatedMBps", med[7]);
      s.put("emulatedEncryptedMBps", med[8]);
      s.put("rawCpuSecondsPerGB", median(cpu[0]));
      s.put("oursCpuSecondsPerGB", median(cpu[1]));
      s.put("encryptedCpuSecondsPerGB", median(cpu[2]));
      s.put("cpuFraction", ratio(cpu[0], cpu[1]));
      s.put("frames", count);
      if (!o.json()) {
        out.printf("%5d MiB %9.0f %9.0f %6.3f %9.3f %9.3f %9.3f %8.3f %10.3f %10.3f %8.2f %8.2f"
                + " %8.2f%n", mib, med[0], med[1], s.get("fraction").asDouble(),
            s.get("bothDirectionsFraction").asDouble(), s.get("encryptedFraction").asDouble(),
            s.get("encryptedBothDirectionsFraction").asDouble(),
            s.get("floatArraysFraction").asDouble(), med[7] / modelMBps, med[8] / modelMBps,
            median(cpu[0]), median(cpu[1]), median(cpu[2]));
      }
    }
    root.put("mibPerCase", o.mibPerCase());
    root.put("rounds", o.rounds());
    root.put("tlsProtocol", TransferTls.protocol());
    root.put("tlsProvider", TransferTls.provider());
    root.put("linkMBps", o.linkMBps());
    root.put("linkLatencyMs", o.linkLatencyMs());
    root.put("availableProcessors", Runtime.getRuntime().availableProcessors());
    return root;
  }

  /** Frames per direction through the emulated link: about half a second of its bandwidth. */
  private static int emulatedFrames(Options o, int size) {
    return (int) Math.max(2, Math.ceil(0.5 * o.linkMBps() * 1e6 / size));
  }

  /** Median over rounds of the per-round ratio (the two cases of a round ran back to back). */
  private static double ratio(double[] num, double[] den) {
    double[] r = new double[num.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = num[i] / den[i];
    }
    return median(r);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /**
   * The bench's own direct buffers, made once per frame size and dropped before the next size:
   * allocating fresh ones per case would exhaust the JVM's direct memory and time its forced
   * garbage collections instead of the transfer.
   */
  private static final Map<String, ByteBuffer> BUFFERS = new java.util.HashMap<>();

  private static synchronized ByteBuffer buffer(String use, int size) {
    return BUFFERS.computeIfAbsent(use + size, k -> ByteBuffer.allocateDirect(size)).duplicate()
        .clear().order(ByteOrder.LITTLE_ENDIAN);
  }

  private static synchronized void dropBuffers() {
    BUFFERS.clear();
    System.gc(); // frees their native memory now, not during the next size's timing
  }

  /** A recognisable payload: float32 i·0.5 in little-endian order, in a direct buffer. */
  private static ByteBuffer pattern(int size) {
    boolean fresh;
    synchronized (TransferBench.class) {
      fresh = !BUFFERS.containsKey("pattern" + size);
    }
    ByteBuffer b = buffer("pattern", size);
    if (fresh) {
      for (int i = 0; i < size / 4; i++) {
        b.putFloat(i * 4, i * 0.5f);
      }
    }
    return b;
  }

  /** MB/s of a raw socket (both: two connections, one each way, at once). */
  static double rawMBps(int size, int count, boolean both) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<ServerSocketChannel> servers = new ArrayList<>();
    List<SocketChannel> sockets = new ArrayList<>();
    try {
      int ways = both ? 2 : 1;
      List<SocketChannel[]> pairs = new ArrayList<>();
      for (int w = 0; w < ways; w++) {
        ServerSocketChannel ss = ServerSocketChannel.open()
            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        servers.add(ss);
        SocketChannel client = SocketChannel.open(ss.getLocalAddress());
        SocketChannel server = ss.accept();
        client.socket().setTcpNoDelay(true);
        sockets.add(client);
        sockets.add(server);
        pairs.add(new SocketChannel[] {client, server});
      }
      List<Callable<Void>> jobs = new ArrayList<>();
      for (SocketChannel[] p : pairs) {
        ByteBuffer out = pattern(size);
        ByteBuffer in = buffer("receive" + pairs.indexOf(p) + "-", size);
        jobs.add(() -> {
          for (int i = 0; i < count; i++) {
            out.clear();
            while (out.hasRemaining()) {
              p[0].write(out);
            }
          }
          return null;
        });
        jobs.add(() -> {
          for (int i = 0; i < count; i++) {
            in.clear();
            while (in.hasRemaining()) {
              if (p[1].read(in) < 0) {
                throw new IOException("raw socket closed early");
              }
            }
          }
          return null;
        });
      }
      return timedRun(pool, jobs, (long) ways * count * size);
    } finally {
      pool.shutdownNow();
      for (SocketChannel s : sockets) {
        s.close();
      }
      for (ServerSocketChannel s : servers) {
        s.close();
      }
    }
  }

  /** MB/s of the block transfer between two servers on loopback (both: each sends to the other). */
  static double oursMBps(int size, int count, boolean tls, boolean both, LinkModel link)
      throws Exception {
    TransferConfig cfg = new TransferConfig("127.0.0.1", 0, 16, 10_000, 120_000, 5_000,
        Math.max(size, 1 << 20)).withEncryption(tls ? TransferConfig.Encryption.ON
        : TransferConfig.Encryption.OFF);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (TcpBlockServer a = new TcpBlockServer(cfg, "bench".getBytes());
        TcpBlockServer b = new TcpBlockServer(cfg, "bench".getBytes())) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 1, b.address());
      Map<Integer, String> pins = Map.of(0, a.certSha256(), 1, b.certSha256());
      try (TcpBlockTransport t0 = a.openSession(1, 0, peers, pins);
          TcpBlockTransport t1 = b.openSession(1, 1, peers, pins)) {
        BlockTransport[] send = {link == null ? t0 : new EmulatedLink(t0, link, 1.0),
            link == null ? t1 : new EmulatedLink(t1, link, 1.0)};
        try {
          return timed(send, new BlockTransport[] {t0, t1}, size, count, both, pool);
        } finally {
          for (BlockTransport s : send) {
            if (s instanceof EmulatedLink e) {
              e.close();
            }
          }
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** Times {@code count} frames each way (one way unless {@code both}), connections warm. */
  private static double timed(BlockTransport[] send, BlockTransport[] take, int size, int count,
      boolean both, ExecutorService pool) throws Exception {
    for (int w = 0; w < 2; w++) { // connect (and TLS) outside the timing
      send[w].send(Block.empty(BlockType.DONE, 1, 0, -1, w, 1 - w));
      take[1 - w].take(30_000).close();
    }
    int ways = both ? 2 : 1;
    List<Callable<Void>> jobs = new ArrayList<>();
    for (int w = 0; w < ways; w++) {
      int from = w;
      ByteBuffer payload = pattern(size);
      jobs.add(() -> {
        for (int i = 0; i < count; i++) {
          send[from].send(Block.of(BlockType.ACTIVATION, BlockHeader.of(1, 0, i, from, 1 - from,
              DType.FLOAT32, size / 4), payload.duplicate()));
        }
        return null;
      });
      jobs.add(() -> {
        for (int i = 0; i < count; i++) {
          try (Block got = take[1 - from].take(120_000)) {
            check(got, i, size);
          }
        }
        return null;
      });
    }
    return timedRun(pool, jobs, (long) ways * count * size);
  }

  /** One way, the array API: {@code float[]} → block → wire → block → {@code float[]}. */
  private static double arraysMBps(int size, int count) throws Exception {
    TransferConfig cfg = new TransferConfig("127.0.0.1", 0, 16, 10_000, 120_000, 5_000,
        Math.max(size, 1 << 20));
    float[] values = new float[size / 4];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.5f;
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (TcpBlockServer a = new TcpBlockServer(cfg, "bench".getBytes());
        TcpBlockServer b = new TcpBlockServer(cfg, "bench".getBytes())) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 1, b.address());
      try (TcpBlockTransport t0 = a.openSession(1, 0, peers);
          TcpBlockTransport t1 = b.openSession(1, 1, peers)) {
        t0.send(Block.empty(BlockType.DONE, 1, 0, -1, 0, 1));
        t1.take(30_000).close();
        List<Callable<Void>> jobs = List.of(() -> {
          for (int i = 0; i < count; i++) {
            t0.send(Block.ofFloats(BlockType.ACTIVATION, 1, 0, i, 0, 1, values));
          }
          return null;
        }, () -> {
          for (int i = 0; i < count; i++) {
            try (Block got = t1.take(120_000)) {
              float[] v = got.floats();
              if (v.length != values.length || v[v.length - 1] != values[v.length - 1]) {
                throw new IllegalStateException("frame " + i + " arrived damaged");
              }
            }
          }
          return null;
        });
        return timedRun(pool, jobs, (long) count * size);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static void check(Block b, int i, int size) {
    if (b.header().payloadBytes() != size || b.header().microbatch() != i) {
      throw new IllegalStateException("expected frame " + i + " of " + size + " bytes, got " + b);
    }
    ByteBuffer p = b.buffer();
    int last = size / 4 - 1;
    if (p.getFloat(4) != 0.5f || p.getFloat(last * 4) != last * 0.5f) {
      throw new IllegalStateException("frame " + i + " arrived damaged");
    }
  }

  /** Process CPU seconds per GB moved by the last timed case (all threads: ours + kernel). */
  private static final ThreadLocal<Double> LAST_CPU_PER_GB = ThreadLocal.withInitial(() -> 0.0);

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
        java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Runs the jobs, timed; returns MB/s for {@code bytes} and records CPU seconds per GB. */
  private static double timedRun(ExecutorService pool, List<Callable<Void>> jobs, long bytes)
      throws Exception {
    long cpu = processCpuNanos();
    long start = System.nanoTime();
    runAll(pool, jobs);
    double seconds = (System.nanoTime() - start) / 1e9;
    LAST_CPU_PER_GB.set((processCpuNanos() - cpu) / 1e9 / (bytes / 1e9));
    return bytes / 1e6 / seconds;
  }

  private static void runAll(ExecutorService pool, List<Callable<Void>> jobs) throws Exception {
    List<Future<Void>> fs = new ArrayList<>();
    for (Callable<Void> j : jobs) {
      fs.add(pool.submit(j));
    }
    for (Future<Void> f : fs) {
      f.get(10, TimeUnit.MINUTES);
    }
  }
}
