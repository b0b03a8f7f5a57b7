package io.skippipe.model.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.stage.StageOptions;
import java.io.PrintWriter;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench model}: tokens/s of one middle stage's forward + backward through the host-buffer
 * API the runtime uses (buffers in, buffers out, autograd scope per microbatch), and its achieved
 * FLOP/s as a fraction of a plain DJL matmul's FLOP/s measured in the same run, alternating with
 * the stage, on the stage's own largest GEMM shape ({@code [B·T, D] × [D, F]}). Times are medians.
 *
 * <p>FLOPs counted (2 per multiply-add, as nanoGPT's {@code estimate_mfu}; backward = 2×
 * forward): per token and layer, projections {@code 2·D·(2·qDim + 2·kvDim)} (q, o, k, v) and SwiGLU
 * {@code 2·3·D·F}, and attention {@code 2·2·T·qDim} for {@code q·kᵀ} and {@code p·v} computed
 * densely (the causal mask is applied to a full {@code T×T} score matrix, so the full product is
 * what runs). Norms, RoPE, softmax and residuals are not counted.
 *
 * <p>Memory, measured first in the fresh JVM (before any timed iteration has warmed glibc's caches):
 * the stage forwards {@code --in-flight} microbatches before any backward, as a pipeline node holds
 * them, and the bench reports the resident memory this added ({@link ResidentMemory}: {@code VmRSS}
 * at its highest after a forward, minus before the first) — what each microbatch in flight costs the
 * node, with or without {@code --activation-checkpointing} (then only each microbatch's stage input
 * is kept, and the backward recomputes the forward).
 */
@Command(name = "model", sortOptions = false,
    sortSynopsis = false,
    description = "One stage's forward+backward throughput (tokens/s) and its FLOP/s as a fraction "
        + "of a plain matmul's, measured alternately in one run.")
public final class StageThroughputBench implements Callable<Integer> {
  @Mixin BenchOptions common;

  @Option(names = "--model", paramLabel = "M", order = 1,
      description = "Model preset or spec file (default: ${DEFAULT-VALUE}).")
  String model = "llama-tiny";

  @Option(names = "--batch", paramLabel = "B", order = 2,
      description = "Sequences per microbatch (default: ${DEFAULT-VALUE}).")
  int batch = 8;

  @Option(names = "--stage", paramLabel = "S", order = 3,
      description = "Stage to time (default: 1, or 0 for a one-stage model).")
  Integer stage;

  @Option(names = "--iters", paramLabel = "N", order = 4,
      description = "Timed iterations (default: ${DEFAULT-VALUE}).")
  int iters = 20;

  @Option(names = "--warmup", paramLabel = "N", order = 5,
      description = "Untimed iterations first (default: ${DEFAULT-VALUE}).")
  int warmup = 3;

  @Option(names = "--in-flight", paramLabel = "N", order = 6,
      description = "Microbatches forwarded before any backward in the memory measurement"
          + " (default: ${DEFAULT-VALUE}).")
  int inFlight = 4;

  @Option(names = "--activation-checkpointing", order = 7,
      description = "Keep only each microbatch's stage input; recompute the forward in the"
          + " backward.")
  boolean activationCheckpointing;

  @Override
  public Integer call() {
    LlamaConfig m = LlamaConfig.preset(model);
    int batch = common.positive("--batch", this.batch);
    int stage = this.stage == null ? Math.min(1, m.stages() - 1) : this.stage;
    int iters = common.positive("--iters", this.iters);
    int warmup = Math.max(0, this.warmup);
    int inFlight = common.positive("--in-flight", this.inFlight);
    if (stage < 0 || stage >= m.stages()) {
      throw common.usage("--stage " + stage + " does not exist; the model has stages 0.."
          + (m.stages() - 1));
    }
    PrintWriter out = common.spec.commandLine().getOut();
    int threads = common.applyThreads();
    int t = m.seqLen();
    int d = m.dim();
    long tokens = (long) batch * t;
    long qDim = (long) m.heads() * m.headDim();
    long kvDim = (long) m.kvHeads() * m.headDim();
    double fwdPerTokenLayer = 2.0 * d * (2 * qDim + 2 * kvDim) + 2.0 * 3 * d * m.ffnDim()
        + 2.0 * 2 * t * qDim;
    double flopsPerIter = 3 * fwdPerTokenLayer * m.layersPerStage() * tokens;

    SplittableRandom r = new SplittableRandom(7);
    float[] hidden = new float[(int) (tokens * d)];
    float[] grad = new float[hidden.length];
    for (int i = 0; i < hidden.length; i++) {
      hidden[i] = (float) r.nextGaussian();
      grad[i] = (float) (r.nextGaussian() * 1e-3);
    }
    long rows = tokens;
    long inner = d;
    long cols = m.ffnDim();
    double[] stageTimes = new double[iters];
    double[] matmulTimes = new double[iters];
    // Stage and matmul are timed alternately, so both see the same load on a shared machine.
    long heldBytes;
    StageOptions options = StageOptions.defaults()
        .withActivationCheckpointing(activationCheckpointing);
    try (StageModel s = StageModel.create(m, stage, 1, options);
        NDManager nd = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      int[] ids = new int[(int) tokens];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = (i * 31) % m.vocab();
      }
      // memory first: inFlight forwards held, then their backwards (one "iteration")
      List<Integer> held = IntStream.range(0, inFlight).boxed().toList();
      s.zeroGradients(held);
      long before = ResidentMemory.currentBytes();
      long highest = before;
      for (int mb : held) {
        forward(s, stage, mb, ids, hidden);
        highest = Math.max(highest, ResidentMemory.currentBytes());
      }
      for (int mb : held) {
        s.backward(mb, grad);
      }
      heldBytes = highest - before;
      NDArray x = nd.randomNormal(new Shape(rows, inner));
      NDArray w = nd.randomNormal(new Shape(inner, cols));
      // then the timing: one "iteration" of warmup + iters microbatches, in id order
      s.zeroGradients(IntStream.range(0, warmup + iters).boxed().toList());
      for (int k = -warmup; k < iters; k++) {
        long t0 = System.nanoTime();
        int mb = k + warmup;
        forward(s, stage, mb, ids, hidden);
        s.backward(mb, grad);
        long t1 = System.nanoTime();
        try (NDArray y = x.matMul(w)) {
          y.toFloatArray(); // force completion and copy out, as the stage's host API does
        }
        long t2 = System.nanoTime();
        if (k >= 0) {
          stageTimes[k] = (t1 - t0) / 1e9;
          matmulTimes[k] = (t2 - t1) / 1e9;
        }
      }
    }
    double stageSeconds = median(stageTimes);
    double matmulSeconds = median(matmulTimes);
    double stageFlops = flopsPerIter / stageSeconds;
    double matmulFlops = 2.0 * rows * inner * cols / matmulSeconds;
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("tokensPerSecond", tokens / stageSeconds);
    o.put("stageFlops", stageFlops);
    o.put("matmulFlops", matmulFlops);
    o.put("fraction", stageFlops / matmulFlops);
    o.put("model", m.dim() + "d/" + m.layers() + "L");
    o.put("stage", stage);
    o.put("layersPerStage", m.layersPerStage());
    o.put("batch", batch);
    o.put("seqLen", t);
    o.put("secondsPerForwardBackward", stageSeconds);
    o.put("matmulShape", rows + "x" + inner + "x" + cols);
    o.put("threads", threads);
    o.put("activationCheckpointing", activationCheckpointing);
    o.put("inFlight", inFlight);
    o.put("heldBytesInFlight", heldBytes);
    o.put("heldBytesPerMicrobatch", heldBytes / inFlight);
    if (common.json) {
      out.println(o.toString());
    } else {
      out.printf("stage %d of %s (%d layers), B=%d T=%d: %.1f ms per forward+backward,"
          + " %.0f tokens/s, %.2f GFLOP/s; plain matmul %s: %.2f GFLOP/s; fraction %.3f%n",
          stage, o.get("model").asText(), m.layersPerStage(), batch, t, stageSeconds * 1e3,
          tokens / stageSeconds, stageFlops / 1e9, o.get("matmulShape").asText(),
          matmulFlops / 1e9, stageFlops / matmulFlops);
      out.printf("%d microbatches in flight%s: %.1f MiB resident (%.1f MiB each)%n", inFlight,
          activationCheckpointing ? " with activation checkpointing" : "", heldBytes / 1048576.0,
          heldBytes / 1048576.0 / inFlight);
    }
    return 0;
  }

  /** One microbatch's forward: token ids into stage 0, hidden states into any other stage. */
  private static void forward(StageModel s, int stage, int mb, int[] ids, float[] hidden) {
    if (stage == 0) {
      s.forwardTokens(mb, ids);
    } else {
      s.forward(mb, hidden);
    }
  }

  static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s[s.length / 2];
  }
}
