package io.skippipe.job.transfer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.Precision;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Micro-benchmark (not a test; run by hand, see the command below) of one activation hop's host
 * side, float32: a stage's output tensor to a block, and a received block to the next stage's
 * input tensor, the network left out. Same JVM, the two paths alternate round by round:
 *
 * <ul>
 *   <li><b>arrays</b> (the runtime before issue 11 item 1): {@code toHostFloats} (tensor →
 *       float[]), a Java loop checking finiteness, {@code Block.ofFloats} (float[] → pooled
 *       buffer); on receive {@code Block.floats()} (→ float[]) and {@code owned(float[])} (DJL
 *       copies the array into a fresh direct buffer, libtorch clones it).
 *   <li><b>buffers</b> (now): {@code allFinite} in libtorch, the tensor's memory written into a
 *       pooled buffer ({@code Precision.encode}) wrapped by {@code Block.ofPooled}; on receive the
 *       block's buffer wrapped by libtorch and cloned once ({@code owned(ByteBuffer)}).
 * </ul>
 *
 * <p>Command (from the repository root): {@code mvn -o -q -pl spark-job -am test-compile
 * dependency:build-classpath -Dmdep.outputFile=$PWD/cp.txt}, then {@code java
 * -Dai.djl.pytorch.num_threads=1 -cp spark-job/target/test-classes:spark-job/target/classes:
 * model/target/classes:scheduler/target/classes:$(cat cp.txt) io.skippipe.job.transfer.HopCopyBench
 * [B T D rounds hopsPerRound]} (no space in the class path; numbers in docs/BENCHMARKS.md).
 * Defaults: llama-500m's activation B=1, T=128, D=1280, 15 rounds of 200 hops.
 */
public final class HopCopyBench {
  private HopCopyBench() {}

  public static void main(String[] args) {
    int b = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int t = args.length > 1 ? Integer.parseInt(args[1]) : 128;
    int d = args.length > 2 ? Integer.parseInt(args[2]) : 1280;
    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 15;
    int hops = args.length > 4 ? Integer.parseInt(args[4]) : 200;
    Shape shape = new Shape(b, t, d);
    float[] values = new float[b * t * d];
    SplittableRandom r = new SplittableRandom(11);
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) r.nextGaussian();
    }
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray out = AutogradAdapter.owned(m, values, shape);
      // both paths deliver the same bits
      try (NDArray x = arrays(m, out, shape); NDArray y = buffers(m, out, shape)) {
        if (!Arrays.equals(x.toFloatArray(), values) || !Arrays.equals(y.toFloatArray(), values)) {
          throw new AssertionError("a path changed the values");
        }
      }
      double[] ratios = new double[rounds];
      double[] arrayMicros = new double[rounds];
      double[] bufferMicros = new double[rounds];
      for (int round = -2; round < rounds; round++) { // two warm-up rounds
        long t0 = System.nanoTime();
        for (int i = 0; i < hops; i++) {
          arrays(m, out, shape).close();
        }
        long t1 = System.nanoTime();
        for (int i = 0; i < hops; i++) {
          buffers(m, out, shape).close();
        }
        long t2 = System.nanoTime();
        if (round >= 0) {
          arrayMicros[round] = (t1 - t0) / 1e3 / hops;
          bufferMicros[round] = (t2 - t1) / 1e3 / hops;
          ratios[round] = arrayMicros[round] / bufferMicros[round];
        }
      }
      System.out.printf(
          "hop [%d,%d,%d] float32 (%.2f MiB), median of %d rounds x %d hops: arrays %.0f us,"
              + " buffers %.0f us, arrays/buffers %.2f%n",
          b, t, d, values.length * 4 / 1048576.0, rounds, hops, median(arrayMicros),
          median(bufferMicros), median(ratios));
    }
  }

  /** The former path: tensor → float[] → block → float[] → direct buffer → tensor. */
  static NDArray arrays(NDManager m, NDArray out, Shape shape) {
    float[] host = AutogradAdapter.toHostFloats(out);
    for (int i = 0; i < host.length; i++) {
      if (!Float.isFinite(host[i])) {
        throw new IllegalStateException("element " + i);
      }
    }
    try (Block block =
        Block.ofFloats(BlockType.ACTIVATION, 1, 0, 0, 0, 1, host, shape.getShape())) {
      return AutogradAdapter.owned(m, block.floats(), shape);
    }
  }

  /** The present path: tensor → pooled buffer (the block's payload) → tensor. */
  static NDArray buffers(NDManager m, NDArray out, Shape shape) {
    if (!AutogradAdapter.allFinite(out)) {
      throw new IllegalStateException("not finite");
    }
    ByteBuffer payload = Block.allocatePayload(Math.toIntExact(out.size() * 4));
    AutogradAdapter.withHostView(out, view -> Precision.FP32.encode(view, payload));
    payload.flip();
    try (Block block = Block.ofPooled(BlockType.ACTIVATION, DType.FLOAT32, 1, 0, 0, 0, 1, payload,
        shape.getShape())) {
      return AutogradAdapter.owned(m, Precision.FP32.toFloat32(block.buffer()), shape);
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
