package io.skippipe.model.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.model.stage.StageModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.random.RandomGenerator;

/**
 * The layer-omission report of one model on held-out sequences (SkipPipe's robustness result):
 * perplexity with all stages, with each single stage omitted, with half of the stages omitted
 * (several seeded subsets of {@code K/2} of the stages 1..K-1, as in the paper's {@code skip=50}),
 * and with every set the user asks for. All numbers come from {@link Perplexity#evaluate} on the
 * same sequences.
 *
 * <p>JSON document ({@link #toJson}, the output of {@code bin/skippipe eval --json} and one line of
 * {@code RUN_DIR/metrics/eval.jsonl}):
 *
 * <pre>
 * { "step": 12,                 // committed step evaluated (-1: not from a checkpoint)
 *   "source": "...",            // checkpoint or model folder
 *   "stages": 6,                // K
 *   "sequences": 64, "tokens": 4096,
 *   "meanNll": 4.21,            // nats per token, all stages
 *   "perplexity": 67.4,         // exp(meanNll)
 *   "omitted": [                // one row per omitted set, in this order:
 *     {"kind": "single", "stages": [1], "meanNll": ..., "perplexity": ...},   // each stage 1..K-1
 *     {"kind": "half",   "stages": [1,3,4], ...},                             // seeded subsets
 *     {"kind": "given",  "stages": [2,4], ...} ],                             // --omit-stages
 *   "halfOmittedPerplexity": 95.1 }  // exp(mean NLL over the "half" rows); absent if none
 * </pre>
 */
public final class OmissionEval {
  private OmissionEval() {}

  /**
   * What to evaluate.
   *
   * @param halfSubsets how many distinct seeded half-omitted subsets (0: none)
   * @param seed seeds the subsets
   * @param given the user's omitted sets (each within 1..K-1)
   * @param batchSize sequences per forward pass
   */
  public record Settings(int halfSubsets, long seed, List<Set<Integer>> given, int batchSize) {
    public Settings {
      if (halfSubsets < 0 || batchSize < 1) {
        throw new IllegalArgumentException("half subsets " + halfSubsets + " and batch size "
            + batchSize + ": need subsets >= 0 and batch size >= 1");
      }
      given = List.copyOf(given);
    }
  }

  /** One omitted set: {@code kind} is single, half or given; stages ascending. */
  public record Row(String kind, List<Integer> stages, double meanNll, double perplexity) {}

  /** The whole report; {@code omitted} in the order documented on the class. */
  public record Report(int stages, int sequences, long tokens, double meanNll, double perplexity,
      List<Row> omitted) {
    /** exp(mean NLL over the half-omitted rows), or NaN when there are none. */
    public double halfOmittedPerplexity() {
      return Math.exp(omitted.stream().filter(r -> r.kind().equals("half"))
          .mapToDouble(Row::meanNll).average().orElse(Double.NaN));
    }
  }

  /**
   * Runs the report on {@code stages} (all K stages, stage 0 first).
   *
   * @throws IllegalArgumentException for a given set with stage 0 or a stage out of range
   */
  public static Report run(List<StageModel> stages, List<int[]> sequences, Settings settings) {
    int k = stages.size();
    settings.given().forEach(g -> Perplexity.checkOmitted(stages, g));
    Perplexity.Result all = Perplexity.evaluate(stages, sequences, Set.of(), settings.batchSize());
    List<Row> rows = new ArrayList<>();
    for (int s = 1; s < k; s++) {
      rows.add(row("single", Set.of(s), stages, sequences, settings));
    }
    for (int[] subset : halfSubsets(k, settings.halfSubsets(),
        new SplittableRandom(settings.seed()))) {
      rows.add(row("half", set(subset), stages, sequences, settings));
    }
    for (Set<Integer> g : settings.given()) {
      rows.add(row("given", g, stages, sequences, settings));
    }
    return new Report(k, sequences.size(), all.tokens(), all.meanNll(), all.perplexity(), rows);
  }

  private static Row row(String kind, Set<Integer> omitted, List<StageModel> stages,
      List<int[]> sequences, Settings settings) {
    Perplexity.Result r = Perplexity.evaluate(stages, sequences, omitted, settings.batchSize());
    return new Row(kind, List.copyOf(new TreeSet<>(omitted)), r.meanNll(), r.perplexity());
  }

  /**
   * Up to {@code count} distinct subsets of {@code stages/2} of the stages 1..stages-1, each drawn
   * by a seeded shuffle from {@code rng}, ascending. Fewer when fewer distinct subsets exist (or a
   * model of one stage: none).
   */
  public static List<int[]> halfSubsets(int stages, int count, RandomGenerator rng) {
    int size = stages / 2;
    List<int[]> out = new ArrayList<>();
    if (stages < 2 || count <= 0) {
      return out;
    }
    Set<String> seen = new LinkedHashSet<>();
    long distinct = binomial(stages - 1, size);
    for (int tries = 0; out.size() < Math.min(count, distinct) && tries < 100 * count; tries++) {
      int[] pool = new int[stages - 1];
      for (int i = 0; i < pool.length; i++) {
        pool[i] = i + 1;
      }
      for (int i = pool.length - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
      }
      int[] s = Arrays.copyOf(pool, size);
      Arrays.sort(s);
      if (seen.add(Arrays.toString(s))) {
        out.add(s);
      }
    }
    return out;
  }

  /** The JSON document described on the class. */
  public static ObjectNode toJson(Report r, long step, String source) {
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("step", step);
    o.put("source", source);
    o.put("stages", r.stages());
    o.put("sequences", r.sequences());
    o.put("tokens", r.tokens());
    o.put("meanNll", r.meanNll());
    o.put("perplexity", r.perplexity());
    ArrayNode rows = o.putArray("omitted");
    for (Row row : r.omitted()) {
      ObjectNode n = rows.addObject();
      n.put("kind", row.kind());
      ArrayNode st = n.putArray("stages");
      row.stages().forEach(st::add);
      n.put("meanNll", row.meanNll());
      n.put("perplexity", row.perplexity());
    }
    if (!Double.isNaN(r.halfOmittedPerplexity())) {
      o.put("halfOmittedPerplexity", r.halfOmittedPerplexity());
    }
    return o;
  }

  /** The report as a text table: one row per omitted set, with its perplexity ratio to all. */
  public static String toTable(Report r) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "%-8s %-18s %10s %12s %9s%n", "omitted", "stages",
        "mean NLL", "perplexity", "x all"));
    b.append(String.format(Locale.ROOT, "%-8s %-18s %10.4f %12.3f %9s%n", "none", "-",
        r.meanNll(), r.perplexity(), "1.00"));
    for (Row row : r.omitted()) {
      b.append(String.format(Locale.ROOT, "%-8s %-18s %10.4f %12.3f %9.2f%n", row.kind(),
          row.stages().toString(), row.meanNll(), row.perplexity(),
          row.perplexity() / r.perplexity()));
    }
    if (!Double.isNaN(r.halfOmittedPerplexity())) {
      b.append(String.format(Locale.ROOT, "half of the stages omitted (geometric mean over %d"
          + " subsets): perplexity %.3f = %.2f x all stages%n",
          r.omitted().stream().filter(x -> x.kind().equals("half")).count(),
          r.halfOmittedPerplexity(), r.halfOmittedPerplexity() / r.perplexity()));
    }
    return b.toString();
  }

  private static Set<Integer> set(int[] stages) {
    Set<Integer> s = new TreeSet<>();
    Arrays.stream(stages).forEach(s::add);
    return s;
  }

  private static long binomial(int n, int k) {
    long c = 1;
    for (int i = 0; i < k; i++) {
      c = c * (n - i) / (i + 1);
    }
    return c;
  }
}
