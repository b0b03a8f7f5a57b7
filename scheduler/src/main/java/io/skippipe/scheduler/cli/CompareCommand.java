package io.skippipe.scheduler.cli;

import io.skippipe.scheduler.plan.Comparison;
import io.skippipe.scheduler.plan.Methods;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bin/skippipe compare}: every method of {@link Methods#NAMES} on one profile ({@link
 * Comparison}): pipeline and iteration time, reduction {@code 1 − t/t_dtfm}, planning time.
 */
@Command(name = "compare", sortOptions = false, sortSynopsis = false,
    description = "Plan every method (dtfm, dtfm-skip, skippipe-no-tc2, skippipe) on one cluster "
        + "and model; print one table.")
public final class CompareCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin PlannerOptions planner;

  @Option(names = "--json", order = 9,
      description = "Print {cluster, model, seed, methods:[{method, iterationSeconds, "
          + "pipelineSeconds, planSeconds, reduction, ...}]}.")
  boolean json;

  @Override
  public Integer call() {
    Comparison c = Comparison.run(planner.cluster(), planner.model(),
        planner.config("skippipe"));
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(c.toJson());
      return ExitCodes.OK;
    }
    ByteArrayOutputStream table = new ByteArrayOutputStream();
    c.printTable(new PrintStream(table, true, StandardCharsets.UTF_8));
    out.print(table.toString(StandardCharsets.UTF_8));
    out.flush();
    return ExitCodes.OK;
  }
}
