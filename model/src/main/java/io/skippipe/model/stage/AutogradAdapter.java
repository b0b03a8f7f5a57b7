package io.skippipe.model.stage;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The one place that knows the PyTorch engine's autograd specifics.
 *
 * <p>Why not DJL's {@code GradientCollector}: {@code PtGradientCollector} keeps a JVM-wide static
 * flag, so two stages training on two threads of one JVM (Spark local mode) collide ("A
 * PtGradientCollector is already collecting"). libtorch's grad mode is thread-local, so this
 * adapter switches it per call with {@link JniUtils#setGradMode}, and runs backward with an
 * upstream gradient through {@link JniUtils#backward} (stack-probe §3.5, §4: bit-exact across
 * threads and processes).
 *
 * <p>Gradient facts it hides (stack-probe §7): gradients accumulate across backward calls until
 * zeroed; {@code getGradient()} returns a new wrapper attached to the parameter's manager on every
 * call, which leaks unless closed; before the first backward a parameter has no gradient tensor
 * (DJL then hands back an unrelated zero array), so {@link #materializeGradient} creates one.
 */
public final class AutogradAdapter {
  /** The whole-array index ("...") for in-place copies. */
  private static final NDIndex ALL = new NDIndex("...");

  /** The intra-op thread count applied to this thread (0: none applied yet). */
  private static final ThreadLocal<Integer> PINNED_THREADS = ThreadLocal.withInitial(() -> 0);

  private AutogradAdapter() {}

  /** Runs {@code body} with libtorch grad mode on in this thread, restoring the previous mode. */
  public static <T> T withGrad(Supplier<T> body) {
    return withGradMode(true, body);
  }

  /** Runs {@code body} with libtorch grad mode off in this thread (inference, optimizer steps). */
  public static <T> T withoutGrad(Supplier<T> body) {
    return withGradMode(false, body);
  }

  private static <T> T withGradMode(boolean on, Supplier<T> body) {
    pinIntraOpThreads();
    boolean previous = JniUtils.isGradMode();
    JniUtils.setGradMode(on);
    try {
      return body.get();
    } finally {
      JniUtils.setGradMode(previous);
    }
  }

  /**
   * Applies {@code -Dai.djl.pytorch.num_threads} to the calling thread, unless this thread already
   * has a count ({@link #pinIntraOpThreads(int)} or an earlier call). Every stage and optimizer
   * call runs it, so tests and the single-process tools get the property's count everywhere.
   *
   * <p>Why: DJL applies the property on the thread that loads the engine; OpenMP keeps the thread
   * count per thread, so a stage driven from another thread (a Spark task, an executor) would
   * otherwise use the OMP default, and a varying number of threads in a reduction changes the float
   * sums (probe: a 25-step training run on a second thread drifted from the main thread's).
   *
   * @throws IllegalArgumentException when the property is not a positive integer
   */
  public static void pinIntraOpThreads() {
    if (PINNED_THREADS.get() > 0) {
      return;
    }
    String n = System.getProperty("ai.djl.pytorch.num_threads");
    if (n == null || n.isBlank()) {
      ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch before the JNI call
      PINNED_THREADS.set(JniUtils.getNumThreads());
      return;
    }
    int threads;
    try {
      threads = Integer.parseInt(n.trim());
    } catch (NumberFormatException e) {
      threads = -1;
    }
    if (threads < 1) {
      throw new IllegalArgumentException(
          "ai.djl.pytorch.num_threads="
              + n
              + " is not a positive integer; set it to the number of"
              + " intra-op threads per stage, e.g. 1 or 2.");
    }
    pinIntraOpThreads(threads);
  }

  /**
   * Sets libtorch's intra-op thread count for the calling thread to {@code threads} (OpenMP keeps
   * it per thread) and records it, so later stage calls on this thread keep it. A Spark task calls
   * this first with {@code spark.skippipe.train.intraOpThreads}; results are bitwise reproducible
   * only between runs with the same count (a reduction split over a different number of threads
   * adds in a different order).
   *
   * @param threads intra-op threads, {@code >= 1}
   * @throws IllegalArgumentException when {@code threads < 1}
   */
  public static void pinIntraOpThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException(
          "intra-op thread count "
              + threads
              + " must be >= 1 (spark.skippipe.train.intraOpThreads or"
              + " -Dai.djl.pytorch.num_threads); use 1 for reproducible small models or the cores"
              + " per task");
    }
    if (PINNED_THREADS.get() != threads) {
      ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch before the JNI call
      JniUtils.setNumThreads(threads);
      PINNED_THREADS.set(threads);
    }
  }

  /**
   * Sets libtorch's inter-op thread pool (process-wide; {@code torch.set_num_interop_threads}) to
   * {@code threads}, unless it already has that size. PyTorch allows this only before its inter-op
   * pool starts: a later different request is refused by libtorch, and then the pool keeps its
   * size and this returns false (the caller says so once). Eager forward/backward of our stages
   * barely uses the pool; the point is not to start one thread per core in every executor.
   *
   * @param threads inter-op threads, {@code >= 1}
   * @return whether the pool has {@code threads} threads now
   * @throws IllegalArgumentException when {@code threads < 1}
   */
  public static synchronized boolean setInterOpThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("inter-op thread count " + threads + " must be >= 1"
          + " (spark.skippipe.train.interOpThreads)");
    }
    ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch before the JNI call
    if (JniUtils.getNumInteropThreads() == threads) {
      return true;
    }
    try {
      JniUtils.setNumInteropThreads(threads);
    } catch (RuntimeException alreadyStarted) {
      return false;
    }
    return JniUtils.getNumInteropThreads() == threads;
  }

  /** The intra-op thread count applied to the calling thread (after pinning it if needed). */
  public static int intraOpThreads() {
    pinIntraOpThreads();
    return PINNED_THREADS.get();
  }

  /**
   * Back-propagates from {@code output} seeded with {@code upstreamGrad} (same shape), accumulating
   * into every leaf that requires a gradient. The graph is freed afterwards.
   */
  public static void backward(NDArray output, NDArray upstreamGrad) {
    if (!output.getShape().equals(upstreamGrad.getShape())) {
      throw new IllegalArgumentException(
          "upstream gradient shape "
              + upstreamGrad.getShape()
              + " differs from output shape "
              + output.getShape());
    }
    JniUtils.backward((PtNDArray) output, (PtNDArray) upstreamGrad, false, false);
  }

  /** Marks {@code leaf} as requiring a gradient. */
  public static void requireGradient(NDArray leaf) {
    leaf.setRequiresGradient(true);
  }

  /** Copies the gradient of {@code leaf} to the host as float32, closing the wrapper. */
  public static float[] readGradient(NDArray leaf) {
    try (NDArray g = leaf.getGradient()) {
      return toHostFloats(g);
    }
  }

  /**
   * A host copy of {@code a} as float32, whatever its type (bf16 widens exactly) and device (the
   * one place a stage's arrays cross to the host).
   */
  public static float[] toHostFloats(NDArray a) {
    return withHostView(
        a,
        view -> {
          float[] out = new float[view.remaining() / 4];
          view.asFloatBuffer().get(out);
          return out;
        });
  }

  /**
   * Runs {@code read} on the float32 values of {@code a} as a direct buffer in native byte order
   * over libtorch's memory (valid only during the call; do not write to it): the tensor's own
   * memory when {@code a} is a float32 CPU tensor ({@code NDArray.toByteBuffer(true)}, no copy),
   * else a temporary float32 CPU copy closed afterwards.
   */
  public static <R> R withHostView(NDArray a, java.util.function.Function<ByteBuffer, R> read) {
    if (a.getDataType() == DataType.FLOAT32 && a.getDevice().equals(Device.cpu())) {
      return read.apply(a.toByteBuffer(true));
    }
    return withoutGrad(
        () -> {
          try (NDManager tmp = a.getManager().newSubManager(Device.cpu())) {
            NDArray host = a.toDevice(Device.cpu(), true);
            host.attach(tmp);
            NDArray f32 = host.toType(DataType.FLOAT32, true);
            f32.attach(tmp);
            return read.apply(f32.toByteBuffer(true));
          }
        });
  }

  /**
   * Whether every element of float32 {@code a} is finite, tested in libtorch (temporaries closed):
   * no host copy, no Java loop. First one reduction, {@code a.sum()}: a NaN or an infinity makes
   * it NaN or infinite, so a finite sum settles it in one pass; only a non-finite sum (a bad
   * element, or a float32 overflow of the sum of finite ones) is checked element-wise ({@code
   * isNaN().logicalOr(isInfinite()).any()}).
   */
  public static boolean allFinite(NDArray a) {
    return withoutGrad(
        () -> {
          try (NDManager tmp = a.getManager().newSubManager()) {
            NDArray sum = a.sum();
            sum.attach(tmp);
            if (Float.isFinite(sum.getFloat())) {
              return true;
            }
            NDArray nan = a.isNaN();
            nan.attach(tmp);
            NDArray inf = a.isInfinite();
            inf.attach(tmp);
            NDArray either = nan.logicalOr(inf);
            either.attach(tmp);
            NDArray any = either.any();
            any.attach(tmp);
            return !any.getBoolean();
          }
        });
  }

  /** Sum of squares of {@code a}'s entries (computed in its dtype, returned as double). */
  public static double sumOfSquares(NDArray a) {
    return withoutGrad(
        () -> {
          try (NDManager tmp = a.getManager().newSubManager()) {
            NDArray sq = a.square();
            sq.attach(tmp);
            NDArray sum = sq.sum();
            sum.attach(tmp);
            return (double) sum.getFloat();
          }
        });
  }

  /** Sets {@code leaf}'s gradient to zero in place (NaN and inf included). */
  public static void zeroGradient(NDArray leaf) {
    withoutGrad(
        () -> {
          try (NDManager tmp = leaf.getManager().newSubManager();
              NDArray g = leaf.getGradient()) {
            g.set(ALL, tmp.zeros(new Shape(), g.getDataType()));
          }
          return null;
        });
  }

  /**
   * Copies {@code values} (row-major) into {@code target}'s own storage, in place, with grad mode
   * off (parameters, gradients, optimizer state).
   *
   * <p>Why not {@code NDArray.set(float[])}: on the PyTorch engine it re-points the tensor at a
   * Java direct buffer that only the calling wrapper keeps alive. For a gradient wrapper that is
   * closed right after, libtorch's {@code .grad} would then read freed memory (seen as random AdamW
   * errors of 1e-2). An indexed copy keeps libtorch's storage.
   */
  public static void assign(NDArray target, float[] values) {
    if (values.length != target.getShape().size()) {
      throw new IllegalArgumentException(
          "cannot copy " + values.length + " values into an array of shape " + target.getShape());
    }
    try (NDManager tmp = target.getManager().newSubManager()) {
      NDArray src = owned(tmp, values, target.getShape());
      withoutGrad(
          () -> {
            target.set(ALL, src);
            return null;
          });
    }
  }

  /**
   * Gives a freshly created parameter a real (zero) gradient tensor, so that reading, writing and
   * zeroing act on the tensor libtorch accumulates into. Runs a backward of {@code sum(leaf)} and
   * zeroes the result.
   */
  public static void materializeGradient(NDArray leaf, NDManager scratch) {
    try (NDManager tmp = scratch.newSubManager()) {
      withGrad(
          () -> {
            NDArray sum = leaf.sum();
            sum.attach(tmp);
            NDArray one = tmp.ones(sum.getShape(), sum.getDataType());
            backward(sum, one);
            return null;
          });
    }
    zeroGradient(leaf);
  }

  /**
   * A float32 array of {@code shape} holding a copy of {@code data} in memory that libtorch owns,
   * attached to {@code manager}.
   *
   * <p>Why not {@code manager.create(data, shape)} alone: on the CPU the PyTorch engine wraps a
   * Java direct buffer with {@code from_blob}, so the tensor lives in memory that only the Java
   * wrapper keeps alive (and that is not aligned like libtorch's own allocations). Any native
   * reference that outlives the wrapper (autograd saved tensors, views) then reads freed memory.
   * Cloning gives a libtorch-owned copy. Observed before this and {@link
   * io.skippipe.model.layers.AttentionConstants}: NaN/inf gradients after GC and training runs that
   * were not bit-reproducible; after: identical weights across runs and threads (PathTrainerTest).
   */
  public static NDArray owned(NDManager manager, float[] data, Shape shape) {
    try (NDArray borrowed = manager.create(data, shape)) {
      return borrowed.duplicate();
    }
  }

  /**
   * As {@link #owned(NDManager, float[], Shape)} for float32 values in a buffer (native byte
   * order, position 0): a direct buffer is wrapped without copying and then cloned once into
   * libtorch's memory, so the array does not depend on the buffer afterwards.
   */
  public static NDArray owned(NDManager manager, ByteBuffer float32, Shape shape) {
    try (NDArray borrowed = manager.create(float32, shape, DataType.FLOAT32)) {
      return borrowed.duplicate();
    }
  }

  /** As {@link #owned(NDManager, float[], Shape)} for int64 data (token ids). */
  public static NDArray owned(NDManager manager, long[] data, Shape shape) {
    try (NDArray borrowed = manager.create(data, shape)) {
      return borrowed.duplicate();
    }
  }

  /** A float32 scalar in libtorch-owned memory. */
  public static NDArray ownedScalar(NDManager manager, float value) {
    return owned(manager, new float[] {value}, new Shape());
  }

  /** Builds an identity set (NDArray equality is element-wise in some engines). */
  public static Set<NDArray> identitySet() {
    return Collections.newSetFromMap(new IdentityHashMap<>());
  }

  /**
   * Moves every array directly managed by {@code from} that is not in {@code keep} to {@code into}
   * (or closes it when {@code into} is null). A safety net: DJL attaches an op's result to its
   * first operand's manager, so an op that starts from a parameter would otherwise land in the
   * long-lived stage manager. Returns how many arrays were moved.
   */
  public static int adoptStrays(NDManager from, Set<NDArray> keep, NDManager into) {
    int moved = 0;
    for (NDArray a : from.getManagedArrays()) {
      if (keep.contains(a) || a.getManager() != from) {
        continue;
      }
      if (into == null) {
        a.close();
      } else {
        a.attach(into);
      }
      moved++;
    }
    return moved;
  }
}
