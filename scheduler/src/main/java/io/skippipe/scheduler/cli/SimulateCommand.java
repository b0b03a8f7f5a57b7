package io.skippipe.scheduler.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.replan.Replanner;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.ChromeTrace;
import io.skippipe.scheduler.timeline.TimelineBuilder;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
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
      description = "Print one JSON object {method, iterationSeconds (whole iteration),"
          + " pipelineSeconds (forward/backward/loss), microbatches, busyFractionByNode,"
          + " warnings}.")
  boolean json;

  @Option(names = "--trace", paramLabel = "FILE", order = 2,
      description = "Also write the simulated spans as a Chrome/Perfetto trace.")
  Path trace;

  @Option(names = "--lost", paramLabel = "NODE[,NODE...]", order = 3, split = ",",
      description = "Simulate the plan re-planned without these nodes (survivors keep their"
          + " stages), as the runtime does when executors are lost.")
  List<Integer> lost;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Plan plan = PlanCodec.read(planFile).withPredicted(null);
    if (lost != null) {
      plan = shrink(plan, json ? spec.commandLine().getErr() : out);
    }
    ScheduleValidator.checkPaths(plan).throwIfInvalid();
    SimulationResult sim = Simulator.run(plan);
    ValidationReport report = ScheduleValidator.check(plan, sim.spans());
    report.throwIfInvalid();
    report.warningLines().forEach(spec.commandLine().getErr()::println);
    Plan simulated = plan;
    if (trace != null) {
      OutputFiles.write(trace, o -> ChromeTrace.write(List.of(new ChromeTrace.Process(
          "predicted (" + simulated.method() + " plan, simulated)",
          TimelineBuilder.rows(simulated), sim.spans())), o));
    }
    if (json) {
      ObjectNode o = new ObjectMapper().createObjectNode();
      o.put("method", plan.method());
      o.put("iterationSeconds", sim.iterationSeconds());
      o.put("pipelineSeconds", sim.pipelineSeconds());
      o.put("microbatches", sim.microbatches());
      ArrayNode busy = o.putArray("busyFractionByNode");
      for (double b : sim.busyFractionByNode()) {
        busy.add(Math.round(b * 1e6) / 1e6);
      }
      ArrayNode warnings = o.putArray("warnings");
      report.warnings().forEach(w -> warnings.add(w.toString()));
      out.println(o);
      return ExitCodes.OK;
    }
    out.printf(Locale.ROOT, "%s plan on %s / %s: iteration %.3f s (pipeline %.3f s, then stage"
            + " all-reduce, scalar exchange, optimizer step), %d microbatches%n",
        plan.method(), plan.cluster().name(), plan.model().name(), sim.iterationSeconds(),
        sim.pipelineSeconds(), sim.microbatches());
    out.println("node  stage  busy");
    for (int x = 0; x < sim.busyFractionByNode().length; x++) {
      if (plan.stageOf(x) >= 0) {
        out.printf(Locale.ROOT, "%4d  %5d  %5.1f%%%n", x, plan.stageOf(x),
            100 * sim.busyFractionByNode()[x]);
      }
    }
    return ExitCodes.OK;
  }

  /** The plan re-planned without the {@code --lost} nodes (survivors keep their stages). */
  private Plan shrink(Plan plan, PrintWriter out) {
    List<Integer> live = new ArrayList<>(plan.cluster().liveNodes());
    for (int x : new TreeSet<>(lost)) {
      if (!live.remove((Integer) x)) {
        throw PlanningException.of("--lost " + lost.stream().map(String::valueOf)
            .collect(java.util.stream.Collectors.joining(",")) + " (node " + x + ")",
            "is not a live node of the plan", "name nodes 0.." + (plan.nodeCount() - 1));
      }
    }
    Replanner.Replan r = Replanner.replan(plan, live, List.of(), Replanner.Settings.defaults());
    out.printf(Locale.ROOT, "nodes %s lost: re-planned on %d nodes, stages %s%s, %d node(s)"
            + " moved (%.1f s of weights)%n", new TreeSet<>(lost), live.size(),
        r.plan().stages(), r.skippedStages().isEmpty() ? "" : ", stages " + r.skippedStages()
            + " skipped by every path", r.moves().size(), r.movementSeconds());
    return r.plan().withPredicted(null);
  }
}
