package io.skippipe.model.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.AutogradAdapter;
import io.skippipe.model.stage.StageModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The KV-cache generator against a step-by-step full forward through the training graph
 * ({@code StageModel.embed → applyLayers → logits} on the whole context every step): the same
 * greedy tokens and logits within float rounding, with all stages and with stages omitted, also
 * across the context-window reset; sampling is seeded.
 */
class GeneratorTest {
  /** Small GQA model (4 query heads, 2 KV heads), 4 stages of 1 layer, 16 positions. */
  static final LlamaConfig CFG = LlamaConfig.of(32, 4, 4, 2, 64, 97, 16, 1);
  static final List<StageModel> stages = new ArrayList<>();
  static final int[] PROMPT = {0, 17, 5, 42, 8};

  @BeforeAll
  static void build() {
    for (int s = 0; s < CFG.stages(); s++) {
      stages.add(StageModel.create(CFG, s, 11));
    }
    // Larger weights than the init's 0.02 so that argmax depends on the context.
    for (StageModel s : stages) {
      var w = s.exportWeights();
      w.replaceAll((k, v) -> {
        float[] c = v.clone();
        if (!k.contains("norm")) {
          for (int i = 0; i < c.length; i++) {
            c[i] *= 20;
          }
        }
        return c;
      });
      s.importWeights(w);
    }
  }

  @AfterAll
  static void close() {
    stages.forEach(StageModel::close);
  }

  /** Next-token logits of {@code context} by a full forward of the kept stages. */
  static float[] fullForwardLogits(int[] context, Set<Integer> omitted) {
    try (NDManager m = NDManager.newBaseManager(stages.get(0).device(), "PyTorch")) {
      return AutogradAdapter.withoutGrad(() -> {
        NDArray ids = AutogradAdapter.owned(m,
            Arrays.stream(context).asLongStream().toArray(), new Shape(1, context.length));
        NDArray h = stages.get(0).applyLayers(stages.get(0).embed(ids));
        for (StageModel s : stages.subList(1, stages.size())) {
          if (!omitted.contains(s.stage())) {
            h = s.applyLayers(h);
          }
        }
        NDArray logits = stages.get(0).logits(h);
        return logits.get(new NDIndex("0, " + (context.length - 1))).toFloatArray();
      });
    }
  }

  /** Greedy decoding by full forwards, with the generator's window rule. */
  static int[] reference(int[] prompt, int n, Set<Integer> omitted, float[] worstDiff,
      Generator g) {
    List<Integer> context = new ArrayList<>();
    Arrays.stream(prompt).forEach(context::add);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      int[] ctx = context.stream().mapToInt(Integer::intValue).toArray();
      float[] logits = fullForwardLogits(ctx, omitted);
      float[] cached = g.nextLogits(ctx);
      for (int v = 0; v < logits.length; v++) {
        worstDiff[0] = Math.max(worstDiff[0], Math.abs(logits[v] - cached[v]));
      }
      int best = 0;
      for (int v = 1; v < logits.length; v++) {
        if (logits[v] > logits[best]) {
          best = v;
        }
      }
      out[i] = best;
      context.add(best);
      if (context.size() > CFG.seqLen()) {
        context = new ArrayList<>(context.subList(context.size() - CFG.seqLen() / 2,
            context.size()));
      }
    }
    return out;
  }

  static Generator.Settings greedy(int n) {
    return new Generator.Settings(n, 0, 0, 1, -1);
  }

  @Test
  void greedyWithAllStagesEqualsFullForwardArgmaxAcrossTheWindowReset() {
    int n = 30; // 5 + 30 > 16 positions: the window resets twice
    try (Generator g = new Generator(stages, Set.of())) {
      Generator.Output out = g.generate(PROMPT, greedy(n));
      float[] worst = {0};
      int[] want = reference(PROMPT, n, Set.of(), worst, g);
      assertArrayEquals(want, out.tokens());
      assertTrue(worst[0] < 1e-3, "cached vs full-forward logits differ by " + worst[0]);
      assertTrue(Arrays.stream(out.tokens()).distinct().count() > 3,
          "a non-degenerate sequence: " + Arrays.toString(out.tokens()));
      assertTrue(out.tokensPerSecond() > 0);
      // deterministic
      assertArrayEquals(out.tokens(), g.generate(PROMPT, greedy(n)).tokens());
    }
  }

  @Test
  void fromOneTokenEveryCachedStepMatchesTheFullForward() {
    // 15 single-token steps on one cache: position offsets, the mask and the cache growth.
    try (Generator g = new Generator(stages, Set.of())) {
      int[] out = g.generate(new int[] {0}, greedy(15)).tokens();
      float[] worst = {0};
      assertArrayEquals(reference(new int[] {0}, 15, Set.of(), worst, g), out);
      assertTrue(worst[0] < 1e-3, "worst logit difference " + worst[0]);
    }
  }

  @Test
  void omittedStagesChangeTheOutputAndEqualTheReducedFullForward() {
    try (Generator all = new Generator(stages, Set.of());
        Generator without = new Generator(stages, Set.of(1, 3))) {
      int[] a = all.generate(PROMPT, greedy(10)).tokens();
      int[] b = without.generate(PROMPT, greedy(10)).tokens();
      assertFalse(Arrays.equals(a, b), "omitting stages 1 and 3 must change the text");
      float[] worst = {0};
      assertArrayEquals(reference(PROMPT, 10, Set.of(1, 3), worst, without), b);
      assertTrue(worst[0] < 1e-3, "worst logit difference " + worst[0]);
    }
  }

  @Test
  void samplingIsSeededAndTopKOneIsGreedy() {
    try (Generator g = new Generator(stages, Set.of())) {
      Generator.Settings s1 = new Generator.Settings(20, 1.0, 0, 7, -1);
      int[] x = g.generate(PROMPT, s1).tokens();
      assertArrayEquals(x, g.generate(PROMPT, s1).tokens(), "same seed, same text");
      int[] y = g.generate(PROMPT, new Generator.Settings(20, 1.0, 0, 8, -1)).tokens();
      assertFalse(Arrays.equals(x, y), "another seed, another text");
      assertArrayEquals(g.generate(PROMPT, greedy(12)).tokens(),
          g.generate(PROMPT, new Generator.Settings(12, 1.0, 1, 3, -1)).tokens(),
          "top-k 1 is greedy");
      // stops at the stop token, which is then the last one
      int[] greedyTokens = g.generate(PROMPT, greedy(12)).tokens();
      int stop = greedyTokens[4];
      int[] stopped = g.generate(PROMPT, new Generator.Settings(12, 0, 0, 1, stop)).tokens();
      assertEquals(stop, stopped[stopped.length - 1]);
      assertTrue(stopped.length <= 5);
    }
  }

  @Test
  void badInputIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> new Generator(stages, Set.of(0)));
    assertThrows(IllegalArgumentException.class, () -> new Generator(stages, Set.of(4)));
    try (Generator g = new Generator(stages, Set.of())) {
      assertThrows(IllegalArgumentException.class, () -> g.generate(new int[0], greedy(1)));
      assertThrows(IllegalArgumentException.class, () -> g.generate(new int[] {97}, greedy(1)));
    }
    assertThrows(IllegalArgumentException.class, () -> new Generator.Settings(1, -1, 0, 1, -1));
  }
}
