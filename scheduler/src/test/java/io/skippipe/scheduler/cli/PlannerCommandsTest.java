package io.skippipe.scheduler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The planner commands through picocli and {@link ExitCodes}, as {@code bin/skippipe} runs them:
 * happy paths and every bad input.
 */
class PlannerCommandsTest {
  @Command(name = "skippipe",
      subcommands = {PlanCommand.class, SimulateCommand.class, CompareCommand.class})
  static final class Root {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] QUICK = {"--gcma-population", "20", "--gcma-trials", "200"};

  @TempDir Path dir;

  private record Result(int code, String out, String err) {}

  private static Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = ExitCodes.configure(new CommandLine(new Root()),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)).execute(args);
    return new Result(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  private static String[] with(String[] a, String... b) {
    String[] r = new String[a.length + b.length];
    System.arraycopy(a, 0, r, 0, a.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  private Path plan() {
    Path p = dir.resolve("plan.json");
    Result r = run(with(new String[] {"plan", "--cluster", "laptop-geo-12", "--model",
        "llama-tiny", "--out", p.toString()}, QUICK));
    assertEquals(0, r.code, r.err);
    return p;
  }

  private static void assertUserError(Result r, String... fragments) {
    assertEquals(2, r.code, r.out + r.err);
    for (String f : fragments) {
      assertTrue(r.err.contains(f), "expected '" + f + "' in: " + r.err);
    }
    assertFalse(r.err.contains("\tat "), "no stack trace for user errors: " + r.err);
  }

  @Test
  void planWritesAReadablePlanAndSimulateJsonReportsIt() throws Exception {
    Path p = plan();
    Plan plan = PlanCodec.read(p);
    assertEquals("skippipe", plan.method());
    assertEquals(2 * 2, plan.microbatches().size());
    Path trace = dir.resolve("trace.json");
    Result r = run("simulate", p.toString(), "--json", "--trace", trace.toString());
    assertEquals(0, r.code, r.err);
    JsonNode j = JSON.readTree(r.out);
    assertEquals(plan.iterationSeconds(), j.get("iterationSeconds").asDouble(), 1e-6);
    assertEquals(plan.pipelineSeconds(), j.get("pipelineSeconds").asDouble(), 1e-6);
    assertTrue(j.get("iterationSeconds").asDouble() > j.get("pipelineSeconds").asDouble());
    assertEquals(0, j.get("warnings").size());
    assertEquals(4, j.get("microbatches").asInt());
    assertEquals(12, j.get("busyFractionByNode").size());
    JsonNode t = JSON.readTree(trace.toFile());
    assertTrue(t.get("traceEvents").size() > 4 * 9);
    Result human = run("simulate", p.toString());
    assertEquals(0, human.code, human.err);
    assertTrue(human.out.contains("iteration"), human.out);
  }

  @Test
  void compareJsonListsEveryMethodWithReductionsAgainstDtfm() throws Exception {
    Result r = run(with(new String[] {"compare", "--cluster", "laptop-geo-12", "--model",
        "llama-tiny", "--json"}, QUICK));
    assertEquals(0, r.code, r.err);
    JsonNode methods = JSON.readTree(r.out).get("methods");
    assertEquals(4, methods.size());
    assertEquals("dtfm", methods.get(0).get("method").asText());
    assertEquals(0.0, methods.get(0).get("reduction").asDouble(), 1e-12);
    for (JsonNode m : methods) {
      assertTrue(m.get("iterationSeconds").asDouble() > m.get("pipelineSeconds").asDouble());
      assertTrue(m.get("pipelineSeconds").asDouble() > 0);
      assertTrue(m.get("planSeconds").asDouble() >= 0);
      assertTrue(m.get("planCpuSeconds").asDouble() >= 0);
      assertEquals(6, m.get("stages").size());
    }
    Result table = run(with(new String[] {"compare", "--cluster", "laptop-geo-12", "--model",
        "llama-tiny"}, QUICK));
    assertEquals(0, table.code, table.err);
    assertTrue(table.out.contains("skippipe-no-tc2"), table.out);
  }

  /** TC1 caps are planner objectives: a plan over them is simulated, with the excess named. */
  @Test
  void simulateWarnsAboutExceededThroughputCapsAndStillSimulates() throws Exception {
    Plan good = PlanCodec.read(plan());
    var c = good.constraints();
    Path tight = dir.resolve("tight.json");
    try (OutputStream o = Files.newOutputStream(tight)) {
      PlanCodec.write(new Plan(good.format(), good.method(), good.seed(), good.cluster(),
          good.model(), new io.skippipe.scheduler.plan.Constraints(c.pathLength(), c.maxSwaps(),
              c.maxSwapDistance(), c.maxJump(), c.memory(), 1), good.stages(),
          good.microbatches(), null), o);
    }
    Result r = run("simulate", tight.toString(), "--json");
    assertEquals(0, r.code, r.err);
    assertTrue(r.err.contains("warning: STAGE_CAP"), r.err);
    JsonNode j = JSON.readTree(r.out);
    assertTrue(j.get("warnings").size() > 0);
    assertEquals(good.iterationSeconds(), j.get("iterationSeconds").asDouble(), 1e-6);
  }

  @Test
  void simulateLostNodesPredictsTheShrunkenPlan() throws Exception {
    Path p = plan();
    Plan plan = PlanCodec.read(p);
    int gone = plan.stages().get(3).get(0);
    Result r = run("simulate", p.toString(), "--lost", "" + gone);
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("nodes [" + gone + "] lost: re-planned on 11 nodes"), r.out);
    assertFalse(r.out.contains(String.format("%4d  ", gone) + "    3"), r.out);
    assertUserError(run("simulate", p.toString(), "--lost", "99"), "--lost 99", "node 99");
  }

  @Test
  void badInputsExitWithCode2AndNameTheValue() throws Exception {
    String out = dir.resolve("x.json").toString();
    assertUserError(run("plan", "--cluster", "no-such-cluster", "--model", "llama-500m", "--out",
        out), "no-such-cluster", "Fix:");
    assertUserError(run("plan", "--cluster", "geo-distributed-gcp-20", "--model", "nope-model",
        "--out", out), "nope-model");
    Path badSizes = dir.resolve("bad-sizes.json");
    Files.writeString(badSizes, Files.readString(Path.of(System.getProperty("skippipe.repo.root"),
        "conf/clusters/laptop-geo-12.json")).replace("\"stageSizes\": [2, 2, 2, 2, 2, 2]",
        "\"stageSizes\": [2, 2, 2, 2, 2, 3]"));
    assertUserError(run("plan", "--cluster", badSizes.toString(), "--model", "llama-tiny",
        "--out", out), "[2, 2, 2, 2, 2, 3]", "sum 13", "12");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-8b", "--out",
        out), "llama-8b", "stages");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--skip-ratio", "0.3", "--out", out), "skip ratio 0.3", "path length");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--memory", "0", "--out", out), "memory 0", "memory too small");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--method", "fastest", "--out", out), "fastest");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--stages", "[[0,1],[2]]", "--out", out), "stages");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--seed", "five", "--out", out), "'--seed': 'five'");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--frobnicate", "1", "--out", out), "--frobnicate");
    assertUserError(run("compare", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--method", "dtfm"), "Unknown option", "'--method'");
    assertUserError(run("plan", "--cluster", "laptop-geo-12", "--model", "llama-tiny",
        "--skip-ratio", "0.3", "--path-length", "4", "--out", out), "mutually exclusive");
    assertUserError(run("plan", "--model", "llama-tiny", "--out", out), "--cluster");
    assertUserError(run("simulate", dir.resolve("missing.json").toString()), "missing.json");
    assertUserError(run("launch"), "launch");
    // A plan.json with a broken path: node 99 does not exist.
    Plan good = PlanCodec.read(plan());
    List<io.skippipe.scheduler.plan.PlannedMicrobatch> mbs =
        new java.util.ArrayList<>(good.microbatches());
    var m0 = mbs.get(0);
    java.util.List<Integer> path = new java.util.ArrayList<>(m0.path());
    path.set(1, 99);
    mbs.set(0, new io.skippipe.scheduler.plan.PlannedMicrobatch(m0.id(), m0.dataNode(),
        m0.releaseSeconds(), path));
    Path broken = dir.resolve("broken.json");
    try (OutputStream o = Files.newOutputStream(broken)) {
      PlanCodec.write(new Plan(good.format(), good.method(), good.seed(), good.cluster(),
          good.model(), good.constraints(), good.stages(), mbs, null), o);
    }
    assertUserError(run("simulate", broken.toString()), "99", "UNKNOWN_NODE");
    Files.writeString(broken, "{ not json");
    assertUserError(run("simulate", broken.toString()), "broken.json", "JSON");
  }
}
