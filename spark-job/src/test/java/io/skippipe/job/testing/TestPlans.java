package io.skippipe.job.testing;

import io.skippipe.scheduler.plan.Constraints;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Small hand-written plans on a 4-stage toy model and 6 nodes: stages [[0,1],[2],[3,4],[5]],
 * two microbatches per data node.
 */
public final class TestPlans {
  private TestPlans() {}

  /** dim 32, 4 layers (1 per stage), 2 heads, 1 kv head, ffn 64, vocab 1024 (bundled tokenizer). */
  public static final ModelSpec MODEL = new ModelSpec("toy", "", 32, 4, 2, 1, 64, 1024, 8, 1, 2, 2, 4);

  public static final List<List<Integer>> STAGES = List.of(List.of(0, 1), List.of(2),
      List.of(3, 4), List.of(5));

  /** The 6-node, 4-stage toy cluster of these plans. */
  public static ClusterProfile cluster() {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      nodes.add(new Node(i, "loc" + (i % 3), 1.0, 2));
    }
    return new ClusterProfile("toy-6", "", nodes, List.of(2, 1, 2, 1),
        Map.of(ClusterProfile.pairKey("loc0", "loc1"), new Link(20, 0.01)), new Link(5, 0.05),
        0.001, 0.001, false);
  }

  /**
   * SkipPipe-style paths of three stages each (pathLength 3, as the validator requires of every
   * path): mb0 [0,2,5] (stage 2 skipped), mb1 [0,4,2] (stage 3 skipped, stages 2 and 1 swapped),
   * mb2 [1,3,5] (stage 1 skipped), mb3 [1,5,4] (stage 1 skipped, 3 and 2 swapped).
   */
  public static Plan skippipe() {
    return plan("skippipe", List.of(List.of(0, 2, 5), List.of(0, 4, 2), List.of(1, 3, 5),
        List.of(1, 5, 4)), new Constraints(3, 2, 1, 4, 2, 4));
  }

  /**
   * Eight microbatches, four per data node, so nodes sum up to six microbatch gradients per
   * iteration — enough for the order of floating-point additions to matter (two terms commute
   * exactly). Skips and swaps as in {@link #skippipe()}.
   */
  public static Plan busy() {
    return plan("skippipe", BUSY_MODEL, List.of(List.of(0, 2, 5), List.of(0, 4, 2), List.of(0, 2, 4),
        List.of(0, 3, 5), List.of(1, 2, 3), List.of(1, 3, 2), List.of(1, 2, 4),
        List.of(1, 5, 4)), new Constraints(3, 2, 1, 4, 2, 8));
  }

  /** The full pipeline: every microbatch through stages 0,1,2,3 in order. */
  public static Plan dtfm() {
    return plan("dtfm", List.of(List.of(0, 2, 3, 5), List.of(0, 2, 4, 5), List.of(1, 2, 3, 5),
        List.of(1, 2, 4, 5)), new Constraints(4, 0, 0, 1, 2, 4));
  }

  /** {@link #MODEL} with four microbatches per data node. */
  static final ModelSpec BUSY_MODEL = new ModelSpec("toy", "", 32, 4, 2, 1, 64, 1024, 8, 1, 2, 4,
      4);

  private static Plan plan(String method, List<List<Integer>> paths, Constraints c) {
    return plan(method, MODEL, paths, c);
  }

  private static Plan plan(String method, ModelSpec model, List<List<Integer>> paths,
      Constraints c) {
    List<PlannedMicrobatch> mbs = new ArrayList<>();
    for (int i = 0; i < paths.size(); i++) {
      mbs.add(new PlannedMicrobatch(i, paths.get(i).get(0), 0.0, paths.get(i)));
    }
    return new Plan(Plan.FORMAT, method, 5, cluster(), model, c, STAGES, mbs, null);
  }

  /** The path of a microbatch as stage indices (what PathTrainer takes). */
  public static int[] stagePath(Plan plan, int mb) {
    List<Integer> path = plan.microbatches().get(mb).path();
    int[] out = new int[path.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = plan.stageOf(path.get(i));
    }
    return out;
  }

  /** Deterministic tokens, {@code B·(T+1)} ids, for (iteration, microbatch). */
  public static int[] tokens(int iteration, int mb) {
    Random r = new Random(1_000L * iteration + mb);
    int[] t = new int[MODEL.samplesPerMicrobatch() * (MODEL.seqLen() + 1)];
    for (int i = 0; i < t.length; i++) {
      t[i] = r.nextInt(MODEL.vocab());
    }
    return t;
  }
}
