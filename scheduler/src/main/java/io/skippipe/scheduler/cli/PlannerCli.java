package io.skippipe.scheduler.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.plan.Comparison;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.replan.Replanner;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.ChromeTrace;
import io.skippipe.scheduler.timeline.HtmlTimeline;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import io.skippipe.scheduler.validate.ScheduleValidator;
import io.skippipe.scheduler.validate.ValidationReport;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Planner commands of bin/skippipe (DESIGN.md §5.3): {@code plan}, {@code simulate}, {@code
 * compare}, {@code timeline}. Exit codes: 0 ok, 2 bad input (one-paragraph message, no stack
 * trace), 1 failure.
 */
public final class PlannerCli {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> TUNING = Set.of("--method", "--skip-ratio", "--path-length",
      "--seed", "--stages", "--allocator", "--gcma-population", "--gcma-trials", "--max-swaps",
      "--max-swap-distance", "--max-jump", "--memory", "--stage-cap", "--cbs-max-nodes",
      "--cbs-goals", "--cbs-branching", "--allocation-evaluations", "--allocation-objective");

  private PlannerCli() {}

  /** Runs one planner command; {@code args[0]} is the command name. Returns the exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String cmd = args.length == 0 ? "" : args[0];
    try {
      return switch (cmd) {
        case "plan" -> plan(parse(cmd, args, Set.of("--cluster", "--model", "--out"), Set.of()),
            out);
        case "simulate" -> simulate(parse(cmd, args, Set.of("--trace", "--lost"),
            Set.of("--json")), out, err);
        case "compare" -> compare(parse(cmd, args, Set.of("--cluster", "--model"),
            Set.of("--json")), out);
        case "timeline" -> timeline(parse(cmd, args, Set.of("--out"), Set.of()), out);
        default -> throw PlanningException.of("command '" + cmd + "'", "unknown planner command",
            "use plan, simulate, compare or timeline");
      };
    } catch (IllegalArgumentException e) {
      err.println("skippipe " + cmd + ": " + e.getMessage());
      return 2;
    } catch (RuntimeException e) {
      err.println("skippipe " + cmd + ": failed: " + e);
      e.printStackTrace(err);
      return 1;
    }
  }

  /** Parsed flags: values by flag, booleans present, positional arguments. */
  private record Args(String cmd, Map<String, String> values, Set<String> flags,
      List<String> positional) {
    String require(String flag) {
      String v = values.get(flag);
      if (v == null) {
        throw PlanningException.of("skippipe " + cmd + " without " + flag, flag + " is required",
            "add " + flag + " VALUE");
      }
      return v;
    }
  }

  private static Args parse(String cmd, String[] args, Set<String> valueFlags,
      Set<String> boolFlags) {
    Map<String, String> values = new HashMap<>();
    Set<String> flags = new java.util.HashSet<>();
    List<String> positional = new ArrayList<>();
    boolean tuning = cmd.equals("plan") || cmd.equals("compare");
    for (int i = 1; i < args.length; i++) {
      String a = args[i];
      if (boolFlags.contains(a)) {
        flags.add(a);
      } else if (valueFlags.contains(a) || (tuning && TUNING.contains(a))) {
        if (i + 1 >= args.length) {
          throw PlanningException.of("option " + a, "needs a value", "write " + a + " VALUE");
        }
        values.put(a, args[++i]);
      } else if (a.startsWith("--")) {
        List<String> known = new ArrayList<>(valueFlags);
        known.addAll(boolFlags);
        if (tuning) {
          known.addAll(TUNING);
        }
        java.util.Collections.sort(known);
        throw PlanningException.of("option " + a, "unknown for 'skippipe " + cmd + "'",
            "use one of " + known);
      } else {
        positional.add(a);
      }
    }
    return new Args(cmd, values, flags, positional);
  }

  private static PlannerConfig config(Args a, String method) {
    PlannerConfig d = PlannerConfig.defaults(method);
    PlannerConfig.Allocation al = d.allocation();
    PlannerConfig.Routing ro = d.routing();
    PlannerConfig.Limits li = d.limits();
    return new PlannerConfig(method,
        a.values().containsKey("--seed") ? lng(a, "--seed") : d.seed(),
        new PlannerConfig.Allocation(a.values().getOrDefault("--allocator", al.allocator()),
            a.values().containsKey("--stages") ? stages(a.values().get("--stages")) : null,
            integer(a, "--gcma-population", al.gcmaPopulation()),
            integer(a, "--gcma-trials", al.gcmaTrials()),
            integer(a, "--allocation-evaluations", al.evaluations()),
            a.values().getOrDefault("--allocation-objective", al.objective())),
        new PlannerConfig.Routing(integer(a, "--cbs-max-nodes", ro.cbsMaxNodes()),
            integer(a, "--cbs-goals", ro.cbsGoals()),
            integer(a, "--cbs-branching", ro.cbsBranching())),
        new PlannerConfig.Limits(dbl(a, "--skip-ratio", null), integer(a, "--path-length", null),
            integer(a, "--max-swaps", li.maxSwaps()),
            integer(a, "--max-swap-distance", li.maxSwapDistance()),
            integer(a, "--max-jump", li.maxJump()), integer(a, "--memory", null),
            integer(a, "--stage-cap", null)));
  }

  private static int plan(Args a, PrintStream out) {
    ClusterProfile cluster = Presets.cluster(a.require("--cluster"));
    ModelSpec model = Presets.model(a.require("--model"));
    String outFile = a.require("--out");
    PlannerConfig cfg = config(a, a.values().getOrDefault("--method", "skippipe"));
    long t0 = System.nanoTime();
    Plan plan = Planner.plan(cluster, model, cfg);
    double seconds = (System.nanoTime() - t0) / 1e9;
    writeFile(Path.of(outFile), o -> PlanCodec.write(plan, o));
    out.printf(Locale.ROOT, "%s on %s / %s: iteration %.3f s (pipeline %.3f s) predicted, %d"
            + " microbatches, planned in %.2f s -> %s%n", plan.method(), cluster.name(),
        model.name(), plan.iterationSeconds(), plan.pipelineSeconds(),
        plan.microbatches().size(), seconds, outFile);
    return 0;
  }

  private static int simulate(Args a, PrintStream out, PrintStream err) {
    if (a.positional().size() != 1) {
      throw PlanningException.of("arguments " + a.positional(), "simulate takes one plan.json",
          "run 'skippipe simulate plan.json [--json] [--trace out.json]'");
    }
    Plan given = PlanCodec.read(Path.of(a.positional().get(0)));
    Plan plan = given.withPredicted(null);
    if (a.values().containsKey("--lost")) {
      plan = shrink(plan, a.values().get("--lost"), a.flags().contains("--json") ? err : out);
    }
    ValidationReport paths = ScheduleValidator.checkPaths(plan);
    paths.throwIfInvalid();
    SimulationResult sim = Simulator.run(plan);
    ValidationReport report = ScheduleValidator.check(plan, sim.spans());
    report.throwIfInvalid();
    report.warningLines().forEach(err::println);
    if (a.values().containsKey("--trace")) {
      writeFile(Path.of(a.values().get("--trace")), o -> ChromeTrace.write(sim.spans(), o));
    }
    if (a.flags().contains("--json")) {
      ObjectNode o = JSON.createObjectNode();
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
      out.println(o.toString());
      return 0;
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
    return 0;
  }

  /** {@code --lost 3,7}: the plan re-planned without those nodes (survivors keep their stages). */
  private static Plan shrink(Plan plan, String lostList, PrintStream out) {
    java.util.Set<Integer> lost = new java.util.TreeSet<>();
    for (String t : lostList.split(",")) {
      try {
        lost.add(Integer.parseInt(t.trim()));
      } catch (NumberFormatException e) {
        throw PlanningException.of("--lost " + lostList, "must list node ids", "write e.g. 3,7");
      }
    }
    List<Integer> live = new ArrayList<>(plan.cluster().liveNodes());
    for (int x : lost) {
      if (!live.remove((Integer) x)) {
        throw PlanningException.of("--lost " + lostList + " (node " + x + ")",
            "is not a live node of the plan", "name nodes 0.." + (plan.nodeCount() - 1));
      }
    }
    Replanner.Replan r = Replanner.replan(plan, live, List.of(), Replanner.Settings.defaults());
    out.printf(Locale.ROOT, "nodes %s lost: re-planned on %d nodes, stages %s%s, %d node(s)"
            + " moved (%.1f s of weights)%n", lost, live.size(), r.plan().stages(),
        r.skippedStages().isEmpty() ? "" : ", stages " + r.skippedStages() + " skipped by every"
            + " path", r.moves().size(), r.movementSeconds());
    return r.plan().withPredicted(null);
  }

  private static int compare(Args a, PrintStream out) {
    ClusterProfile cluster = Presets.cluster(a.require("--cluster"));
    ModelSpec model = Presets.model(a.require("--model"));
    if (a.values().containsKey("--method")) {
      throw PlanningException.of("--method with compare", "compare runs every method",
          "drop --method, or use 'skippipe plan --method M'");
    }
    Comparison c = Comparison.run(cluster, model, config(a, "skippipe"));
    if (a.flags().contains("--json")) {
      out.println(c.toJson().toString());
      return 0;
    }
    c.printTable(out);
    return 0;
  }

  private static int timeline(Args a, PrintStream out) {
    if (a.positional().size() != 1) {
      throw PlanningException.of("arguments " + a.positional(),
          "timeline takes one plan.json or run directory",
          "run 'skippipe timeline plan.json|RUN_DIR --out timeline.html'");
    }
    Path in = Path.of(a.positional().get(0));
    Path planFile = Files.isDirectory(in) ? in.resolve("plan.json") : in;
    if (!Files.isRegularFile(planFile)) {
      throw PlanningException.of("path " + in, "is neither a plan.json nor a run directory "
          + "holding plan.json", "pass a plan file or a run directory");
    }
    Plan plan = PlanCodec.read(planFile).withPredicted(null);
    ScheduleValidator.checkPaths(plan).throwIfInvalid();
    SimulationResult sim = Simulator.run(plan);
    List<HtmlTimeline.Section> sections = new ArrayList<>();
    sections.add(new HtmlTimeline.Section("predicted (simulated " + plan.method() + " plan)",
        sim.spans()));
    Path measured = in.resolve("trace").resolve("measured-spans.jsonl");
    if (Files.isDirectory(in) && Files.isRegularFile(measured)) {
      // Measured times count from the run's start; shift them to start at 0 like the prediction.
      List<Span> raw = SpanJson.read(measured);
      long origin = raw.stream().mapToLong(Span::startMicros).min().orElse(0);
      List<Span> spans = raw.stream().map(x -> new Span(x.node(), x.stage(), x.microbatch(),
          x.kind(), x.startMicros() - origin, x.endMicros() - origin)).toList();
      sections.add(new HtmlTimeline.Section("measured (" + measured + ", from its first span)",
          spans));
    }
    String outFile = a.require("--out");
    writeFile(Path.of(outFile), o -> HtmlTimeline.write("SkipPipe timeline: " + plan.method()
        + " on " + plan.cluster().name() + " / " + plan.model().name(), sections, o));
    out.println("wrote " + outFile + " (" + sections.size() + " timeline"
        + (sections.size() > 1 ? "s" : "") + ")");
    return 0;
  }

  private interface Writer {
    void write(OutputStream o) throws IOException;
  }

  private static void writeFile(Path file, Writer w) {
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      try (OutputStream o = Files.newOutputStream(file)) {
        w.write(o);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  private static List<List<Integer>> stages(String json) {
    try {
      JsonNode j = JSON.readTree(json);
      List<List<Integer>> out = new ArrayList<>();
      for (JsonNode s : j) {
        if (!s.isArray()) {
          throw new IOException("not a list of lists");
        }
        List<Integer> st = new ArrayList<>();
        for (JsonNode x : s) {
          if (!x.isIntegralNumber()) {
            throw new IOException("node id " + x + " is not an integer");
          }
          st.add(x.asInt());
        }
        out.add(st);
      }
      if (!j.isArray() || out.isEmpty()) {
        throw new IOException("empty");
      }
      return out;
    } catch (IOException e) {
      throw PlanningException.of("--stages " + json, "must be a JSON list of node-id lists ("
          + e.getMessage().split("\n")[0] + ")", "write e.g. '[[0,1],[2,3],[4,5]]'");
    }
  }

  private static Integer integer(Args a, String flag, Integer dflt) {
    String v = a.values().get(flag);
    if (v == null) {
      return dflt;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw PlanningException.of(flag + " " + v, "must be an integer", "write a whole number");
    }
  }

  private static long lng(Args a, String flag) {
    String v = a.values().get(flag);
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw PlanningException.of(flag + " " + v, "must be an integer", "write a whole number");
    }
  }

  private static Double dbl(Args a, String flag, Double dflt) {
    String v = a.values().get(flag);
    if (v == null) {
      return dflt;
    }
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw PlanningException.of(flag + " " + v, "must be a number", "write e.g. 0.33");
    }
  }
}
