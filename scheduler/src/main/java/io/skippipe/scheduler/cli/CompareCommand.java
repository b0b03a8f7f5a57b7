package io.skippipe.scheduler.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.Methods;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bin/skippipe compare}: every method of {@link Methods#NAMES} on one profile, sharing one
 * GCMA allocation; iteration time, reduction {@code 1 − t/t_dtfm} and planning time.
 */
@Command(name = "compare", sortOptions = false,
    sortSynopsis = false,
    description = "Plan every method (dtfm, dtfm-skip, skippipe-no-tc2, skippipe) on one cluster "
        + "and model with one shared allocation; print one table.")
public final class CompareCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin PlannerOptions planner;

  @Option(names = "--json", order = 9,
      description = "Print {cluster, model, seed, allocationSeconds, methods:[{method, "
          + "iterationSeconds, planSeconds, reduction}]}.")
  boolean json;

  @Override
  public Integer call() {
    ClusterProfile cluster = planner.cluster();
    ModelSpec model = planner.model();
    PlannerConfig base = planner.config("skippipe");
    long t0 = System.nanoTime();
    if (base.stages() == null) {
      base = base.withStages(Planner.allocate(CostModel.of(cluster, model), cluster, base));
    }
    double allocSeconds = (System.nanoTime() - t0) / 1e9;
    List<double[]> rows = new ArrayList<>();
    for (String m : Methods.NAMES) {
      long t1 = System.nanoTime();
      Plan p = Planner.plan(cluster, model, base.withMethod(m));
      double planSeconds = allocSeconds + (System.nanoTime() - t1) / 1e9;
      rows.add(new double[] {p.iterationSeconds(), planSeconds});
    }
    double dtfm = rows.get(Methods.NAMES.indexOf("dtfm"))[0];
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      ObjectNode o = new ObjectMapper().createObjectNode();
      o.put("cluster", cluster.name());
      o.put("model", model.name());
      o.put("seed", base.seed());
      o.put("allocationSeconds", allocSeconds);
      ArrayNode arr = o.putArray("methods");
      for (int i = 0; i < rows.size(); i++) {
        ObjectNode r = arr.addObject();
        r.put("method", Methods.NAMES.get(i));
        r.put("iterationSeconds", rows.get(i)[0]);
        r.put("planSeconds", rows.get(i)[1]);
        r.put("reduction", 1 - rows.get(i)[0] / dtfm);
      }
      out.println(o);
      return ExitCodes.OK;
    }
    out.printf(Locale.ROOT, "cluster %s, model %s, seed %d, stages %s%n", cluster.name(),
        model.name(), base.seed(), base.stages());
    out.printf(Locale.ROOT, "%-16s %14s %18s %12s%n", "method", "iteration (s)",
        "reduction vs dtfm", "plan (s)");
    for (int i = 0; i < rows.size(); i++) {
      out.printf(Locale.ROOT, "%-16s %14.3f %17.1f%% %12.2f%n", Methods.NAMES.get(i),
          rows.get(i)[0], 100 * (1 - rows.get(i)[0] / dtfm), rows.get(i)[1]);
    }
    out.printf(Locale.ROOT, "(plan time includes the shared GCMA allocation, %.2f s)%n",
        allocSeconds);
    return ExitCodes.OK;
  }
}
