package io.skippipe.model.stage;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.ParameterLayout;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A stage's weights: the float32 master parameters (what the optimizer updates and checkpoints
 * hold), the compute weights the graph reads (the master arrays themselves in float32; bfloat16
 * copies, refreshed after every update, in {@link Precision#BF16}), and weight I/O by Hugging Face
 * name. All arrays live in the stage's manager, on its device.
 *
 * <p>Gradients flow into the compute weights (leaves that require a gradient); the stage's {@link
 * GradientAccumulator} sums them in float32 per master parameter.
 */
final class StageParameters {
  private static final NDIndex ALL = new NDIndex("...");

  private final LlamaConfig config;
  private final int stage;
  private final Precision precision;
  private final List<ParameterLayout.Param> layout;
  private final LinkedHashMap<String, NDArray> master = new LinkedHashMap<>();
  private final LinkedHashMap<String, NDArray> compute = new LinkedHashMap<>();

  /** Creates the stage's parameters from their deterministic initial values ({@code seed}). */
  StageParameters(
      LlamaConfig config, int stage, long seed, Precision precision, NDManager manager,
      Set<NDArray> resident) {
    this.config = config;
    this.stage = stage;
    this.precision = precision;
    this.layout = ParameterLayout.forStage(config, stage);
    for (ParameterLayout.Param p : layout) {
      NDArray a = AutogradAdapter.owned(manager, p.initialValues(seed), new Shape(p.shape()));
      a.setName(p.name());
      master.put(p.name(), a);
      resident.add(a);
      NDArray c = a;
      if (precision != Precision.FP32) {
        c = AutogradAdapter.owned(manager, precision.round(p.initialValues(seed)),
            new Shape(p.shape()));
        c.setName(p.name() + "." + precision);
        resident.add(c);
      }
      AutogradAdapter.requireGradient(c);
      compute.put(p.name(), c);
    }
    for (NDArray c : compute.values()) {
      AutogradAdapter.materializeGradient(c, manager);
    }
  }

  /** The float32 master parameters by HF name, in the stable order (do not close). */
  Map<String, NDArray> master() {
    return Collections.unmodifiableMap(master);
  }

  /** The compute weights by HF name (the graph's leaves; do not close). */
  Map<String, NDArray> compute() {
    return Collections.unmodifiableMap(compute);
  }

  /** The compute weight named {@code name}, or null. */
  NDArray computeWeight(String name) {
    return compute.get(name);
  }

  /** HF names and shapes in the stable order. */
  Map<String, long[]> shapes() {
    LinkedHashMap<String, long[]> out = new LinkedHashMap<>();
    for (ParameterLayout.Param p : layout) {
      out.put(p.name(), p.shape());
    }
    return out;
  }

  /** Scalar parameters of the stage. */
  long count() {
    long n = 0;
    for (ParameterLayout.Param p : layout) {
      n += p.size();
    }
    return n;
  }

  /** Copies the master weights into the compute weights (after an update; no-op in float32). */
  void refreshCompute() {
    if (precision == Precision.FP32) {
      return;
    }
    for (String name : master.keySet()) {
      roundIntoCompute(name);
    }
  }

  /** A host copy (float32) of the master parameter {@code name}. */
  float[] read(String name) {
    NDArray a = master.get(name);
    if (a == null) {
      throw new IllegalArgumentException(
          "stage " + stage + " has no parameter " + name + "; it holds " + master.keySet());
    }
    return AutogradAdapter.toHostFloats(a);
  }

  /** A copy of every master parameter, keyed by HF name, in the stable order. */
  Map<String, float[]> exportAll() {
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    for (String name : master.keySet()) {
      out.put(name, read(name));
    }
    return out;
  }

  /**
   * Overwrites one master parameter (and its compute copy) from {@code values} (row-major).
   *
   * @throws IllegalArgumentException when the stage has no such parameter or the count differs
   */
  void write(String name, float[] values) {
    ParameterLayout.Param p = param(name);
    if (values.length != p.size()) {
      throw new IllegalArgumentException(
          "weight "
              + name
              + " has "
              + values.length
              + " values but shape "
              + Arrays.toString(p.shape())
              + " needs "
              + p.size()
              + "; the file was written for a different model config.");
    }
    AutogradAdapter.assign(master.get(name), values);
    if (precision != Precision.FP32) {
      roundIntoCompute(name);
    }
  }

  /**
   * compute[name] ← bf16(master[name]) on the device, by Veltkamp's split (Dekker 1971): {@code c =
   * σ·x; hi = c − (c − x)} with {@code σ = 2^16 + 1} keeps the 8 leading significant bits of a
   * float32, rounded to nearest (ties may round away from even, unlike {@link
   * Precision#roundToBf16}; both give a bfloat16 value).
   */
  private void roundIntoCompute(String name) {
    NDArray m = master.get(name);
    AutogradAdapter.withoutGrad(
        () -> {
          try (NDManager tmp = m.getManager().newSubManager()) {
            NDArray sigma = tmp.full(new Shape(), Precision.VELTKAMP_SPLITTER);
            NDArray c = m.mul(sigma);
            c.attach(tmp);
            NDArray hi = c.sub(c.sub(m));
            hi.attach(tmp);
            compute.get(name).set(ALL, hi);
          }
          return null;
        });
  }

  /**
   * Overwrites every parameter from {@code weights}; all of this stage's names must be present
   * (keys of other stages are ignored, so a whole-model map loads into any stage).
   */
  void importAll(Map<String, float[]> weights) {
    for (ParameterLayout.Param p : layout) {
      float[] v = weights.get(p.name());
      if (v == null) {
        throw new IllegalArgumentException(
            "weights lack "
                + p.name()
                + " needed by stage "
                + stage
                + "; load a file written for"
                + " this model (same layers and layersPerStage).");
      }
      if (v.length != p.size()) {
        write(p.name(), v); // throws with the shape message
      }
    }
    for (ParameterLayout.Param p : layout) {
      write(p.name(), weights.get(p.name()));
    }
  }

  /** The layout entry of {@code name}. */
  ParameterLayout.Param param(String name) {
    for (ParameterLayout.Param p : layout) {
      if (p.name().equals(name)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "stage " + stage + " of this model has no parameter " + name + " (it holds "
            + master.keySet() + "); the file belongs to another model or stage");
  }

  /** The type of master weights, compute weights and gradient sums (always float32). */
  static DataType masterType() {
    return DataType.FLOAT32;
  }

  LlamaConfig config() {
    return config;
  }
}
