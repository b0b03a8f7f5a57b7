package io.skippipe.scheduler.allocate;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * Skip-aware allocation (issue 11 item 4): improves a start allocation (GCMA's, or a previous
 * plan's) by local search on the real objective of the skipping methods, instead of GCMA's
 * full-pipeline proxy. Each candidate is scored by a caller-given {@link Scorer} — the planner
 * routes it with the skippipe router's cheap prioritized planning and simulates the whole
 * iteration (pipeline with its skipping paths, stage all-reduce, scalar exchange, optimizer step),
 * so the score sees which stages the paths actually cross and what each stage's data-parallel
 * group costs.
 *
 * <p>Search: first-improvement hill climbing over moves drawn with the caller's seeded generator —
 * swap two nodes of different stages (keeps every stage size) and, when stage sizes are free (a
 * re-plan), move one node to another stage (keeping stage 0 and every stage that must stay
 * non-empty non-empty); frozen stages keep their members. A move is kept when it lowers the score. Each distinct candidate is
 * scored at most once; the search stops after {@code evaluations} scored candidates or {@code
 * 8 × evaluations} proposals. The result is never worse than the start by the scorer.
 */
public final class SkipAwareAllocator {
  /** Scores a candidate allocation; lower is better; infinite when it cannot be routed. */
  public interface Scorer {
    double score(List<List<Integer>> stages);
  }

  private final int evaluations;

  /** @param evaluations candidates scored at most (0 returns the start unchanged) */
  public SkipAwareAllocator(int evaluations) {
    if (evaluations < 0) {
      throw new IllegalArgumentException("evaluations must be >= 0, got " + evaluations);
    }
    this.evaluations = evaluations;
  }

  /** The search's answer: the best stage lists, their score and how many candidates were scored. */
  public record Result(List<List<Integer>> stages, double score, int scored) {}

  /**
   * Improves {@code start}.
   *
   * @param freeSizes whether moves may change stage sizes (re-planning); otherwise only swaps
   * @param mayEmpty per stage, whether it may become empty (only with {@code freeSizes})
   * @param frozen per stage, whether its members must stay as they are (a re-plan keeps the data
   *     nodes: each holds its own data shard)
   */
  public Result improve(List<List<Integer>> start, Scorer scorer, boolean freeSizes,
      boolean[] mayEmpty, boolean[] frozen, RandomGenerator rng) {
    List<List<Integer>> current = copy(start);
    double currentScore = scorer.score(current);
    Set<String> seen = new HashSet<>();
    seen.add(key(current));
    int scored = 1;
    int k = current.size();
    for (int attempt = 0; attempt < 8 * evaluations && scored <= evaluations; attempt++) {
      List<List<Integer>> cand = copy(current);
      int a = pickStage(cand, rng, frozen);
      if (a < 0) {
        break;
      }
      int b = rng.nextInt(k - 1);
      b = b >= a ? b + 1 : b;
      if (frozen[b]) {
        continue;
      }
      boolean move = freeSizes && (cand.get(b).isEmpty() || rng.nextInt(3) == 0);
      int i = rng.nextInt(cand.get(a).size());
      if (move) {
        int min = a == 0 || !mayEmpty[a] ? 1 : 0;
        if (cand.get(a).size() <= min) {
          continue;
        }
        cand.get(b).add(cand.get(a).remove(i));
      } else {
        if (cand.get(b).isEmpty()) {
          continue;
        }
        int j = rng.nextInt(cand.get(b).size());
        int x = cand.get(a).get(i);
        cand.get(a).set(i, cand.get(b).get(j));
        cand.get(b).set(j, x);
      }
      if (!seen.add(key(cand))) {
        continue;
      }
      double s = scorer.score(cand);
      scored++;
      if (s < currentScore) {
        current = cand;
        currentScore = s;
      }
    }
    return new Result(current, currentScore, scored);
  }

  /** A random non-empty stage that is not frozen, or -1. */
  private static int pickStage(List<List<Integer>> stages, RandomGenerator rng,
      boolean[] frozen) {
    List<Integer> ok = new ArrayList<>();
    for (int s = 0; s < stages.size(); s++) {
      if (!frozen[s] && !stages.get(s).isEmpty()) {
        ok.add(s);
      }
    }
    return ok.isEmpty() ? -1 : ok.get(rng.nextInt(ok.size()));
  }

  private static List<List<Integer>> copy(List<List<Integer>> s) {
    List<List<Integer>> out = new ArrayList<>();
    for (List<Integer> x : s) {
      out.add(new ArrayList<>(x));
    }
    return out;
  }

  /** Order-free identity of an allocation (sets per stage). */
  private static String key(List<List<Integer>> s) {
    StringBuilder b = new StringBuilder();
    for (List<Integer> x : s) {
      b.append(x.stream().sorted().toList()).append('|');
    }
    return b.toString();
  }
}
