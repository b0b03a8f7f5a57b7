package io.skippipe.model.stage;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A stage's parameter gradients for one iteration, summed in a fixed order: ascending microbatch
 * id, whatever order the backward calls arrive in. Float addition is not associative, so letting
 * libtorch accumulate into {@code .grad} in arrival order (which depends on network timing) gave
 * different bits on every run; this class makes a node's gradient a function of its microbatches
 * alone, and the single-process reference ({@code PathTrainer}) sums in the same order.
 *
 * <h2>How</h2>
 *
 * Each parameter's libtorch {@code .grad} is only a scratch buffer: it is zero before a backward
 * call, holds that call's contribution right after it, and {@link #collect} moves the contribution
 * into the parameter's running sum (then zeroes the scratch). A contribution is identified by a
 * key {@code (microbatch, phase)}: phase {@link Phase#LOSS} is stage 0's final norm + LM head
 * backward, {@link Phase#BACKWARD} the stage body's; keys are ordered by microbatch, then phase.
 * For every parameter the keys it will receive this iteration are known from {@link #start}'s
 * microbatch set and the phases that touch it. A contribution whose key is the parameter's next
 * expected one is added at once (followed by any buffered successors); one that arrives early is
 * copied into a reorder buffer until every smaller key has been added.
 *
 * <h2>Memory bound</h2>
 *
 * One extra array per parameter (the sum), plus the reorder buffer: at most one stage-gradient
 * copy per early contribution, i.e. at most {@code (k − 1) ×} the stage's gradient bytes where
 * {@code k} is the number of microbatches this stage sees in the iteration (when the smallest id
 * finishes last). Buffers are freed as soon as they are added. A runtime that runs backwards in
 * ascending id order (ties broken on ids, as {@code PathTrainer} and the schedule follower do
 * when the data allow) keeps the buffer empty.
 *
 * <p>Not thread-safe: the owning stage serialises calls. Arrays live in the stage's manager (the
 * stage's device); the stage closes them with its manager.
 */
final class GradientAccumulator {
  /** The backward call a contribution comes from; the order within one microbatch. */
  enum Phase {
    /** Stage 0's final norm and LM head, run when the microbatch returns for its loss. */
    LOSS,
    /** The stage's layers (and, at stage 0, the embedding): {@code StageModel.backward}. */
    BACKWARD
  }

  private static final NDIndex ALL = new NDIndex("...");

  private final int stage;
  private final NDManager manager;
  private final Map<String, Slot> slots = new LinkedHashMap<>();
  private final TreeSet<Integer> expected = new TreeSet<>();
  /** libtorch-owned zeros (scalars) by type, to fill arrays with ({@code set(Number)} leaks). */
  private final Map<ai.djl.ndarray.types.DataType, NDArray> zeros = new java.util.HashMap<>();

  /** One parameter's running sum, its expected keys and its reorder buffer. */
  private static final class Slot {
    final NDArray param;
    final Set<Phase> phases;
    final NDArray sum;
    long[] order = new long[0];
    int next;
    final TreeMap<Long, NDArray> early = new TreeMap<>();

    Slot(NDArray param, Set<Phase> phases, NDArray sum) {
      this.param = param;
      this.phases = phases;
      this.sum = sum;
    }

    boolean done() {
      return next == order.length;
    }
  }

  /**
   * @param stageManager the stage's manager; sums and buffers live in a child of it
   * @param params the stage's compute weights by name (the leaves libtorch writes {@code .grad}
   *     of; gradients already materialised); sums are float32 whatever their type
   * @param phases which phases write each parameter's gradient (by name; may list more names)
   */
  GradientAccumulator(
      int stage, NDManager stageManager, Map<String, NDArray> params,
      Map<String, Set<Phase>> phases) {
    this.stage = stage;
    this.manager = stageManager.newSubManager();
    this.manager.setName("stage-" + stage + "-gradients");

    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      Set<Phase> ph = phases.get(e.getKey());
      if (ph == null || ph.isEmpty()) {
        throw new IllegalStateException("no backward phase writes " + e.getKey());
      }
      NDArray sum = manager.zeros(e.getValue().getShape(), StageParameters.masterType());
      sum.setName(e.getKey() + ".grad_sum");
      slots.put(e.getKey(), new Slot(e.getValue(), ph, sum));
    }
  }

  /**
   * Starts an iteration: every sum becomes zero, the reorder buffers are emptied, and {@code
   * microbatches} become the ids whose contributions are expected.
   */
  void start(Collection<Integer> microbatches) {
    expected.clear();
    for (Integer m : microbatches) {
      if (m == null || m < 0) {
        throw new IllegalArgumentException(
            "microbatch id " + m + " must be a non-negative integer (stage " + stage + ")");
      }
      expected.add(m);
    }
    AutogradAdapter.withoutGrad(
        () -> {
          for (Slot s : slots.values()) {
            s.early.values().forEach(NDArray::close);
            s.early.clear();
            s.sum.set(ALL, zero(s.sum));
            zeroScratch(s);
            List<Long> keys = new ArrayList<>();
            for (int m : expected) {
              for (Phase p : Phase.values()) {
                if (s.phases.contains(p)) {
                  keys.add(key(m, p));
                }
              }
            }
            s.order = keys.stream().mapToLong(Long::longValue).toArray();
            s.next = 0;
          }
          return null;
        });
  }

  /**
   * Checks, before a backward call runs, that microbatch {@code microbatch}'s {@code phase} is
   * expected and has not been collected yet.
   *
   * @throws IllegalStateException naming the stage, the microbatch and the expected set
   */
  void checkExpected(int microbatch, Phase phase) {
    if (!expected.contains(microbatch)) {
      throw new IllegalStateException(
          "stage "
              + stage
              + " got a "
              + phase
              + " gradient of microbatch "
              + microbatch
              + " but expects only "
              + expected
              + " this iteration; pass every microbatch whose path visits this stage to"
              + " zeroGradients(microbatches) at the start of the iteration");
    }
    long k = key(microbatch, phase);
    for (Slot s : slots.values()) {
      if (s.phases.contains(phase)) {
        if (s.early.containsKey(k) || (s.next > 0 && s.order[s.next - 1] >= k)) {
          throw new IllegalStateException(
              "stage "
                  + stage
                  + " already holds the "
                  + phase
                  + " gradient of microbatch "
                  + microbatch
                  + " for this iteration; each microbatch runs its backward once per iteration");
        }
        return;
      }
    }
  }

  /**
   * Moves the contribution of {@code (microbatch, phase)} out of the scratch gradients of the
   * parameters that phase writes: added to the sum now when every smaller key is in, otherwise
   * kept in the reorder buffer. Call right after the backward, with {@link #checkExpected} before.
   */
  void collect(int microbatch, Phase phase) {
    long k = key(microbatch, phase);
    AutogradAdapter.withoutGrad(
        () -> {
          for (Slot s : slots.values()) {
            if (!s.phases.contains(phase)) {
              continue;
            }
            try (NDArray scratch = s.param.getGradient()) {
              if (s.next < s.order.length && s.order[s.next] == k) {
                s.sum.addi(scratch);
                s.next++;
                drain(s);
              } else {
                NDArray copy = scratch.duplicate();
                copy.attach(manager);
                s.early.put(k, copy);
              }
              scratch.set(ALL, zero(scratch));
            }
          }
          return null;
        });
  }

  private static void drain(Slot s) {
    while (s.next < s.order.length && !s.early.isEmpty() && s.early.firstKey() == s.order[s.next]) {
      try (NDArray g = s.early.pollFirstEntry().getValue()) {
        s.sum.addi(g);
      }
      s.next++;
    }
  }

  /** Whether every expected contribution has been added. */
  boolean complete() {
    for (Slot s : slots.values()) {
      if (!s.done()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The summed gradients by parameter name (live arrays owned by the stage: do not close).
   *
   * @throws IllegalStateException when an expected microbatch's gradient has not arrived, naming
   *     what is missing and what to do: {@code what} names the reader in the message
   */
  Map<String, NDArray> sums(String what) {
    requireComplete(what);
    Map<String, NDArray> out = new LinkedHashMap<>();
    slots.forEach((name, s) -> out.put(name, s.sum));
    return Collections.unmodifiableMap(out);
  }

  /** Throws unless {@link #complete()}. */
  void requireComplete(String what) {
    if (complete()) {
      return;
    }
    TreeSet<Integer> missing = new TreeSet<>();
    for (Slot s : slots.values()) {
      for (int i = s.next; i < s.order.length; i++) {
        if (!s.early.containsKey(s.order[i])) {
          missing.add((int) (s.order[i] >> 1));
        }
      }
    }
    throw new IllegalStateException(
        what
            + " on stage "
            + stage
            + " needs the gradients of every expected microbatch "
            + expected
            + ", but "
            + (missing.isEmpty() ? "some" : "those of " + missing)
            + " have not arrived (backward not run, or the microbatch was aborted). Run every"
            + " expected backward first, or start the iteration with the microbatches this stage"
            + " really sees");
  }

  /** Microbatches expected this iteration, ascending. */
  Set<Integer> expected() {
    return Collections.unmodifiableSet(expected);
  }

  /** Arrays held in the reorder buffer now (for tests of the memory bound). */
  int bufferedArrays() {
    int n = 0;
    for (Slot s : slots.values()) {
      n += s.early.size();
    }
    return n;
  }

  private void zeroScratch(Slot s) {
    try (NDArray scratch = s.param.getGradient()) {
      scratch.set(ALL, zero(scratch));
    }
  }

  /** A zero scalar of {@code a}'s type (the in-place fill needs matching types). */
  private NDArray zero(NDArray a) {
    return zeros.computeIfAbsent(
        a.getDataType(), t -> manager.zeros(new ai.djl.ndarray.types.Shape(), t));
  }

  private static long key(int microbatch, Phase phase) {
    return ((long) microbatch << 1) | phase.ordinal();
  }

  @Override
  public String toString() {
    return "GradientAccumulator[stage " + stage + ", expected " + expected + ", buffered "
        + bufferedArrays() + ", params " + Arrays.toString(slots.keySet().toArray()) + "]";
  }
}
