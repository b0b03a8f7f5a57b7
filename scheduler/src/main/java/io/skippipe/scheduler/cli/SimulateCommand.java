package io.skippipe.scheduler.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.ChromeTrace;
import io.skippipe.scheduler.timeline.TimelineBuilder;
import io.skippipe.scheduler.validate.ScheduleValidator;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bin/skippipe simulate}: re-simulates a plan.json (its {@code predicted} block is
 * ignored), validates it, prints the iteration time and per-node busy fraction.
 */
@Command(name = "simulate", sortOptions = false,
    sortSynopsis = false,
    description = "Validate and simulate a plan.json; print the iteration time and each node's "
        + "busy fraction.")
public final class SimulateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "plan.json",
      description = "A plan.json; only cluster, model, constraints, stages and microbatches are "
          + "needed.")
  Path planFile;

  @Option(names = "--json", order = 1,
      description = "Print one JSON object {method, iterationSeconds, microbatches, "
          + "busyFractionByNode}.")
  boolean json;

  @Option(names = "--trace", paramLabel = "FILE", order = 2,
      description = "Also write the simulated spans as a Chrome/Perfetto trace.")
  Path trace;

  @Override
  public Integer call() {
    Plan plan = PlanCodec.read(planFile).withPredicted(null);
    ScheduleValidator.checkPaths(plan).throwIfInvalid();
    SimulationResult sim = Simulator.run(plan);
    ScheduleValidator.check(plan, sim.spans()).throwIfInvalid();
    if (trace != null) {
      OutputFiles.write(trace, o -> ChromeTrace.write(List.of(new ChromeTrace.Process(
          "predicted (" + plan.method() + " plan, simulated)", TimelineBuilder.rows(plan),
          sim.spans())), o));
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      ObjectNode o = new ObjectMapper().createObjectNode();
      o.put("method", plan.method());
      o.put("iterationSeconds", sim.iterationSeconds());
      o.put("microbatches", sim.microbatches());
      ArrayNode busy = o.putArray("busyFractionByNode");
      for (double b : sim.busyFractionByNode()) {
        busy.add(Math.round(b * 1e6) / 1e6);
      }
      out.println(o);
      return ExitCodes.OK;
    }
    out.printf(Locale.ROOT, "%s plan on %s / %s: iteration %.3f s, %d microbatches%n",
        plan.method(), plan.cluster().name(), plan.model().name(), sim.iterationSeconds(),
        sim.microbatches());
    out.println("node  stage  busy");
    for (int x = 0; x < sim.busyFractionByNode().length; x++) {
      out.printf(Locale.ROOT, "%4d  %5d  %5.1f%%%n", x, plan.stageOf(x),
          100 * sim.busyFractionByNode()[x]);
    }
    return ExitCodes.OK;
  }
}
