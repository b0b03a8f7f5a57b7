package io.skippipe.scheduler.cli;

import io.skippipe.scheduler.plan.Methods;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code bin/skippipe plan}: allocates, routes, simulates and validates; writes plan.json. */
@Command(name = "plan", sortOptions = false,
    sortSynopsis = false,
    description = "Plan one method on a cluster profile and model spec; write plan.json "
        + "(format skippipe-plan/1, DESIGN.md §5.2).")
public final class PlanCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin PlannerOptions planner;

  @Option(names = "--method", paramLabel = "skippipe|skippipe-no-tc2|dtfm-skip|dtfm", order = 7,
      completionCandidates = MethodNames.class,
      description = "Planning method (default: ${DEFAULT-VALUE}).")
  String method = "skippipe";

  @Option(names = "--out", required = true, paramLabel = "FILE", order = 8,
      description = "Where to write plan.json.")
  Path out;

  /** The method names, for shell completion. */
  static final class MethodNames extends java.util.ArrayList<String> {
    MethodNames() {
      super(Methods.NAMES);
    }
  }

  @Override
  public Integer call() {
    ClusterProfile cluster = planner.cluster();
    ModelSpec model = planner.model();
    long t0 = System.nanoTime();
    Plan plan = Planner.plan(cluster, model, planner.config(method));
    double seconds = (System.nanoTime() - t0) / 1e9;
    OutputFiles.write(out, o -> PlanCodec.write(plan, o));
    spec.commandLine().getOut().printf(Locale.ROOT, "%s on %s / %s: iteration %.3f s (pipeline"
            + " %.3f s) predicted, %d microbatches, planned in %.2f s -> %s%n", plan.method(),
        cluster.name(), model.name(), plan.iterationSeconds(), plan.pipelineSeconds(),
        plan.microbatches().size(), seconds, out);
    return ExitCodes.OK;
  }
}
