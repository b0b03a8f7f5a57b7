package io.skippipe.model.weights;

import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.Safetensors.Tensor;
import io.skippipe.model.weights.StageCheckpoint.OptimizerState;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bridge between live DJL stages ({@link StageModel}, {@link AdamW}) and the files of this
 * package: per-stage checkpoints ({@link StageCheckpoint}) and whole-model export
 * ({@link ModelExport}). Weights travel as host copies keyed by HF name; shapes come from the
 * stage.
 */
public final class StageWeights {
  private StageWeights() {}

  /** A stage's weights as tensors (HF names and shapes). */
  public static Map<String, Tensor> weights(StageModel stage) {
    return tensors(stage.exportWeights(), stage.parameterShapes());
  }

  /** An optimizer's state in the checkpoint form ({@code m}, {@code v}, step). */
  public static OptimizerState optimizerState(StageModel stage, AdamW optimizer) {
    Map<String, float[]> s = optimizer.exportState();
    Map<String, Tensor> m = new LinkedHashMap<>();
    Map<String, Tensor> v = new LinkedHashMap<>();
    stage.parameterShapes().forEach((name, shape) -> {
      m.put(name, new Tensor(shape, s.get(name + AdamW.EXP_AVG)));
      v.put(name, new Tensor(shape, s.get(name + AdamW.EXP_AVG_SQ)));
    });
    return new OptimizerState(m, v, optimizer.step());
  }

  /** Writes a stage's weights (and, if the stream is given, its optimizer state) to streams. */
  public static void write(HfConfig c, StageModel stage, AdamW optimizer, OutputStream weightsOut,
      OutputStream optimizerOut) throws IOException {
    int lps = stage.config().layersPerStage();
    StageCheckpoint.writeWeights(weightsOut, c, stage.stage(), lps, weights(stage));
    if (optimizerOut != null) {
      StageCheckpoint.writeOptimizer(optimizerOut, c, stage.stage(), lps,
          optimizerState(stage, optimizer));
    }
  }

  /** Reads streams written by {@link #write} into a stage (and optimizer, if given). */
  public static void read(HfConfig c, StageModel stage, AdamW optimizer, InputStream weightsIn,
      long weightsLength, String weightsSource, InputStream optimizerIn, long optimizerLength,
      String optimizerSource) throws IOException {
    int lps = stage.config().layersPerStage();
    stage.importWeights(arrays(StageCheckpoint.readWeights(weightsIn, weightsLength,
        weightsSource, c, stage.stage(), lps)));
    if (optimizer != null && optimizerIn != null) {
      importOptimizer(optimizer, StageCheckpoint.readOptimizer(optimizerIn, optimizerLength,
          optimizerSource, c, stage.stage(), lps));
    }
  }

  /** Saves a stage (weights; optimizer state unless {@code optimizer} is null) into a folder. */
  public static void save(Path dir, HfConfig c, StageModel stage, AdamW optimizer)
      throws IOException {
    StageCheckpoint.save(dir, c, stage.stage(), stage.config().layersPerStage(), weights(stage),
        optimizer == null ? null : optimizerState(stage, optimizer));
  }

  /** Loads a stage (and optimizer, if not null) from a folder written by {@link #save}. */
  public static void load(Path dir, HfConfig c, StageModel stage, AdamW optimizer)
      throws IOException {
    int lps = stage.config().layersPerStage();
    stage.importWeights(arrays(StageCheckpoint.loadWeights(dir, c, stage.stage(), lps)));
    if (optimizer != null) {
      importOptimizer(optimizer, StageCheckpoint.loadOptimizer(dir, c, stage.stage(), lps));
    }
  }

  /** Exports all stages (index = stage) as one HF model folder (see {@link ModelExport}). */
  public static void exportModel(Path dir, HfConfig c, List<StageModel> stages, Path tokenizerJson,
      long maxShardBytes) throws IOException {
    List<Map<String, Tensor>> parts = new ArrayList<>();
    for (StageModel s : stages) {
      parts.add(weights(s));
    }
    ModelExport.export(dir, c, ModelExport.mergeStages(c, parts), tokenizerJson, maxShardBytes);
  }

  /** Loads an exported model folder into stages (each takes its own tensors). */
  public static HfConfig importModel(Path dir, List<StageModel> stages) throws IOException {
    ModelExport.Loaded m = ModelExport.load(dir);
    Map<String, float[]> all = arrays(m.weights());
    for (StageModel s : stages) {
      s.importWeights(all);
    }
    return m.config();
  }

  private static void importOptimizer(AdamW optimizer, OptimizerState s) {
    Map<String, float[]> state = new LinkedHashMap<>();
    s.m().forEach((name, t) -> state.put(name + AdamW.EXP_AVG, t.data()));
    s.v().forEach((name, t) -> state.put(name + AdamW.EXP_AVG_SQ, t.data()));
    optimizer.importState(state, s.step());
  }

  /** Tensors from host arrays and shapes (same keys). */
  public static Map<String, Tensor> tensors(Map<String, float[]> data, Map<String, long[]> shapes) {
    Map<String, Tensor> t = new LinkedHashMap<>();
    shapes.forEach((name, shape) -> {
      float[] d = data.get(name);
      if (d == null) {
        throw new IllegalArgumentException("no values for tensor \"" + name + "\"");
      }
      t.put(name, new Tensor(shape, d));
    });
    return t;
  }

  /** Host arrays of tensors (same keys). */
  public static Map<String, float[]> arrays(Map<String, Tensor> tensors) {
    Map<String, float[]> a = new LinkedHashMap<>();
    tensors.forEach((name, t) -> a.put(name, t.data()));
    return a;
  }
}
