package io.skippipe.scheduler.plan;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code skippipe compare}: every method of {@link Methods#NAMES} on one cluster and model, one
 * table (STYLE.md habit 8).
 *
 * <p>Allocation: with {@code --stages} every method runs on them; with an explicit allocator every
 * method runs on that allocator's stages, computed once; with the default {@code auto}, {@code
 * dtfm} runs on GCMA's stages (the paper's baseline) and {@code skippipe} on the skip-aware
 * search's (whose candidates include GCMA's), and the two ablations ({@code skippipe-no-tc2},
 * {@code dtfm-skip}) on the same stages as {@code skippipe}, so they isolate the router.
 *
 * <p>Plan seconds include the method's allocation, or the shared one; in {@code auto} mode the
 * ablations reuse {@code skippipe}'s stages and count only their routing.
 *
 * @param rows one per method, baseline first
 */
public record Comparison(ClusterProfile cluster, ModelSpec model, long seed, List<Row> rows) {

  /**
   * One method's result.
   *
   * @param iterationSeconds predicted whole iteration
   * @param pipelineSeconds predicted pipeline phase (the paper's metric)
   * @param planSeconds wall seconds to plan it, its allocation included
   * @param planCpuSeconds CPU seconds of the same (the planner is single-threaded)
   * @param stages its allocation
   */
  public record Row(String method, double iterationSeconds, double pipelineSeconds,
      double planSeconds, double planCpuSeconds, List<List<Integer>> stages) {}

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** Plans and simulates every method. */
  public static Comparison run(ClusterProfile cluster, ModelSpec model, PlannerConfig base) {
    List<Row> rows = new ArrayList<>();
    long[] t0 = clock();
    List<List<Integer>> shared = base.stages();
    if (shared == null && !base.allocation().allocator().equals("auto")) {
      shared = Planner.allocate(io.skippipe.scheduler.cost.CostModel.of(cluster, model), cluster,
          model, base);
    }
    double[] sharedCost = since(t0);
    List<List<Integer>> skipStages = shared;
    if (shared == null) {
      long[] t1 = clock();
      Plan sp = Planner.plan(cluster, model, base.withMethod("skippipe"));
      skipStages = sp.stages();
      rows.add(row(sp, since(t1), new double[2]));
    }
    for (String m : Methods.NAMES) {
      if (shared == null && m.equals("skippipe")) {
        continue;
      }
      long[] t = clock();
      PlannerConfig cfg = base.withMethod(m);
      boolean ownAllocation = shared == null && Methods.isFullPipeline(m);
      Plan p = Planner.plan(cluster, model, ownAllocation ? cfg : cfg.withStages(skipStages));
      rows.add(row(p, since(t), shared == null ? new double[2] : sharedCost));
    }
    rows.sort((a, b) -> Integer.compare(Methods.NAMES.indexOf(a.method()),
        Methods.NAMES.indexOf(b.method())));
    return new Comparison(cluster, model, base.seed(), List.copyOf(rows));
  }

  private static Row row(Plan p, double[] cost, double[] extra) {
    return new Row(p.method(), p.iterationSeconds(), p.pipelineSeconds(), cost[0] + extra[0],
        cost[1] + extra[1], p.stages());
  }

  /** {wall nanos, cpu nanos} now. */
  private static long[] clock() {
    return new long[] {System.nanoTime(), THREADS.getCurrentThreadCpuTime()};
  }

  /** {wall seconds, cpu seconds} since {@code t}. */
  private static double[] since(long[] t) {
    long[] now = clock();
    return new double[] {(now[0] - t[0]) / 1e9, (now[1] - t[1]) / 1e9};
  }

  /** The row of a method. */
  public Row row(String method) {
    return rows.stream().filter(r -> r.method().equals(method)).findFirst().orElseThrow();
  }

  /**
   * {@code {"cluster", "model", "seed", "methods": [{"method", "iterationSeconds",
   * "pipelineSeconds", "planSeconds", "planCpuSeconds", "reduction", "pipelineReduction",
   * "stages"}]}}; reductions are {@code 1 − t/t_dtfm} of the whole iteration and of the pipeline.
   */
  public ObjectNode toJson() {
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("cluster", cluster.name());
    o.put("model", model.name());
    o.put("seed", seed);
    Row dtfm = row("dtfm");
    ArrayNode arr = o.putArray("methods");
    for (Row r : rows) {
      ObjectNode j = arr.addObject();
      j.put("method", r.method());
      j.put("iterationSeconds", r.iterationSeconds());
      j.put("pipelineSeconds", r.pipelineSeconds());
      j.put("planSeconds", r.planSeconds());
      j.put("planCpuSeconds", r.planCpuSeconds());
      j.put("reduction", 1 - r.iterationSeconds() / dtfm.iterationSeconds());
      j.put("pipelineReduction", 1 - r.pipelineSeconds() / dtfm.pipelineSeconds());
      ArrayNode st = j.putArray("stages");
      for (List<Integer> s : r.stages()) {
        ArrayNode a = st.addArray();
        s.forEach(a::add);
      }
    }
    return o;
  }

  /** The human table. */
  public void printTable(PrintStream out) {
    out.printf(Locale.ROOT, "cluster %s, model %s, seed %d%n", cluster.name(), model.name(),
        seed);
    Row dtfm = row("dtfm");
    out.printf(Locale.ROOT, "%-16s %13s %10s %14s %10s %9s %8s%n", "method", "pipeline (s)",
        "vs dtfm", "iteration (s)", "vs dtfm", "plan (s)", "CPU (s)");
    for (Row r : rows) {
      out.printf(Locale.ROOT, "%-16s %13.3f %9.1f%% %14.3f %9.1f%% %9.2f %8.2f%n", r.method(),
          r.pipelineSeconds(), 100 * (1 - r.pipelineSeconds() / dtfm.pipelineSeconds()),
          r.iterationSeconds(), 100 * (1 - r.iterationSeconds() / dtfm.iterationSeconds()),
          r.planSeconds(), r.planCpuSeconds());
    }
    out.println("(\"vs dtfm\" = reduction 1 - t/t_dtfm; pipeline = forward/backward/loss, the paper's"
        + " metric; iteration adds the stage all-reduce, scalar exchange and optimizer step)");
    for (Row r : rows) {
      out.printf(Locale.ROOT, "  %-16s stages %s%n", r.method(), r.stages());
    }
  }
}
