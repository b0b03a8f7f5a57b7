package io.skippipe.job.task.chunk;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.task.role.Roles;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.Safetensors;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rebuilds a stage that lost every replica from its neighbours' weights, as {@link Roles} decided
 * (the CheckFree rule: a weighted average layer by layer; see {@link Roles} for the weights and the
 * first/last-stage rule).
 *
 * <p>Layer {@code j} of stage {@code i} (global index {@code i·L + j}, L layers per stage) is
 * {@code lowerWeight · layer (low·L + j) + upperWeight · layer (up·L + j)}, element by element,
 * summed in double and rounded once. Stage 0's embedding, final norm and LM head (which no other
 * stage holds) come from the commit when there is one, else they keep the target's initial values.
 * The neighbours' files are read as streams, tensor by tensor, never a whole stage at once beyond
 * the one being built.
 */
public final class StageRecovery {
  private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

  private StageRecovery() {}

  /**
   * Overwrites {@code target}'s weights with the recovered ones.
   *
   * @param neighbourStore where the neighbours' weights are (snapshots or the commit)
   * @param neighbourStep the step of those files
   * @param commitStore the run's checkpoints (stage 0's embedding, norm and head)
   * @param commitStep the last commit, or -1 (keep the target's initial values)
   * @throws IllegalStateException when a layer of the target is not covered by a neighbour file
   */
  public static void rebuild(StageModel target, Roles.Neighbours nb, CheckpointStore neighbourStore,
      long neighbourStep, CheckpointStore commitStore, long commitStep) throws IOException {
    int layersPerStage = target.config().layersPerStage();
    Map<String, double[]> sum = new LinkedHashMap<>();
    Map<String, long[]> shapes = target.parameterShapes();
    for (String name : shapes.keySet()) {
      if (LAYER.matcher(name).matches()) {
        sum.put(name, new double[(int) numel(shapes.get(name))]);
      }
    }
    for (int[] side : new int[][] {{nb.lower(), 0}, {nb.upper(), 1}}) {
      int src = side[0];
      if (src < 0) {
        continue;
      }
      double w = side[1] == 0 ? nb.lowerWeight() : nb.upperWeight();
      int shift = (src - target.stage()) * layersPerStage;
      read(neighbourStore, neighbourStep, src, (name, from, chunk, n) -> {
        Matcher m = LAYER.matcher(name);
        if (!m.matches()) {
          return; // the embedding, norm and head of stage 0 as a neighbour
        }
        double[] dst = sum.get("model.layers." + (Integer.parseInt(m.group(1)) - shift) + "."
            + m.group(2));
        if (dst == null) {
          throw new IllegalStateException("stage " + src + "'s tensor " + name + " maps to no"
              + " layer of stage " + target.stage());
        }
        for (int k = 0; k < n; k++) {
          dst[(int) from + k] += w * chunk[k];
        }
      });
    }
    Map<String, float[]> out = new HashMap<>();
    sum.forEach((name, v) -> {
      float[] f = new float[v.length];
      for (int k = 0; k < v.length; k++) {
        f[k] = (float) v[k];
      }
      out.put(name, f);
    });
    for (String name : shapes.keySet()) {
      if (!out.containsKey(name)) { // stage 0's embedding, final norm, LM head
        out.put(name, target.exportWeight(name));
      }
    }
    if (target.stage() == 0 && commitStep >= 0) {
      Map<String, float[]> own = new HashMap<>();
      for (String name : shapes.keySet()) {
        if (!LAYER.matcher(name).matches()) {
          own.put(name, new float[(int) numel(shapes.get(name))]);
        }
      }
      read(commitStore, commitStep, 0, (name, from, chunk, n) -> {
        float[] dst = own.get(name);
        if (dst != null) {
          System.arraycopy(chunk, 0, dst, (int) from, n);
        }
      });
      out.putAll(own);
    }
    target.importWeights(out);
  }

  /** Receives a weights file's values chunk by chunk. */
  private interface Sink {
    void chunk(String name, long from, float[] chunk, int n);
  }

  private static void read(CheckpointStore store, long step, int stage, Sink sink)
      throws IOException {
    String rel = CheckpointStore.replicaFile(stage, 0, StageState.WEIGHTS);
    try (InputStream in = new BufferedInputStream(store.open(step, rel), 1 << 20)) {
      Safetensors.read(in, -1, StageState.where(store, step, rel), null,
          (e, from, chunk, n) -> sink.chunk(e.name(), from, chunk, n));
    }
  }

  private static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
