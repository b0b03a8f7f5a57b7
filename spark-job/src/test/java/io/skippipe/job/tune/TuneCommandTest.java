package io.skippipe.job.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.cli.SkipPipeCli;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.validate.ScheduleValidator;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/skippipe tune} through the command line ({@link TuneCommand}). */
class TuneCommandTest {
  @TempDir Path dir;

  record Result(int code, String out, String err) {}

  static Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] line = new String[args.length + 1];
    line[0] = "tune";
    System.arraycopy(args, 0, line, 1, args.length);
    int code = SkipPipeCli.run(line, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Result(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void throughputOnlyJsonEndsWithOneLineAndWritesTheChosenPlan() throws Exception {
    Path plan = dir.resolve("chosen.json");
    Result r = run("--cluster", "laptop-geo-12", "--model", "llama-tiny", "--probe-steps", "0",
        "--json", "--out", plan.toString());
    assertEquals(0, r.code, r.err);
    String[] lines = r.out.strip().split("\n");
    JsonNode j = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertTrue(j.get("frontier").size() >= 2);
    for (JsonNode f : j.get("frontier")) {
      assertTrue(f.has("pathLength") && f.has("maxSwaps")
          && f.get("activationCheckpointing").isBoolean()
          && f.get("predictedIterationSeconds").asDouble() > 0, f.toString());
    }
    JsonNode c = j.get("choice");
    Plan p = PlanCodec.read(plan);
    assertEquals(c.get("activationCheckpointing").asBoolean(),
        p.model().activationCheckpointing());
    assertEquals(c.get("pathLength").asInt(), p.constraints().pathLength());
    assertEquals(c.get("maxSwaps").asInt(), p.constraints().maxSwaps());
    assertEquals(c.get("predictedIterationSeconds").asDouble(), p.iterationSeconds(), 1e-9);
    assertTrue(ScheduleValidator.check(p.withPredicted(null), Simulator.run(p).spans()).ok());
    Result table = run("--cluster", "laptop-geo-12", "--model", "llama-tiny", "--probe-steps",
        "0", "--out", plan.toString());
    assertEquals(0, table.code, table.err);
    assertTrue(table.out.contains("choice") && table.out.contains("rule: throughput only")
        && table.out.contains(" ckpt "), table.out);
    // one checkpointing setting only: every frontier entry and the written plan have it
    Result on = run("--cluster", "laptop-geo-12", "--model", "llama-tiny", "--probe-steps", "0",
        "--activation-checkpointing", "on", "--json", "--out", plan.toString());
    assertEquals(0, on.code, on.err);
    String[] onLines = on.out.strip().split("\n");
    for (JsonNode f : new ObjectMapper().readTree(onLines[onLines.length - 1]).get("frontier")) {
      assertTrue(f.get("activationCheckpointing").asBoolean(), f.toString());
    }
    assertTrue(PlanCodec.read(plan).model().activationCheckpointing());
  }

  @Test
  void badInputsExitWith2AndNameTheValue() {
    for (String[] args : new String[][] {
        {"--model", "llama-tiny"},
        {"--cluster", "laptop-geo-12", "--model", "llama-tiny", "--probe-steps", "2"},
        {"--cluster", "laptop-geo-12", "--model", "llama-tiny", "--target-loss", "5",
            "--budget-seconds", "9"},
        {"--cluster", "laptop-geo-12", "--model", "llama-tiny", "--probe-steps", "0",
            "--target-loss", "5"},
        {"--cluster", "laptop-geo-12", "--model", "llama-tiny", "--target-loss", "-1"},
        {"--cluster", "nowhere", "--model", "llama-tiny", "--probe-steps", "0"},
        {"--cluster", "laptop-geo-12", "--model", "llama-tiny", "--frobnicate", "1"},
        {"--cluster", "laptop-geo-12", "--model", "llama-tiny", "--probe-steps", "0",
            "--activation-checkpointing", "sometimes"}}) {
      Result r = run(args);
      assertEquals(2, r.code, String.join(" ", args) + ": " + r.err);
      assertTrue(r.err.startsWith("skippipe tune: "), r.err);
      assertFalse(r.err.contains("\tat "), "no stack trace: " + r.err);
    }
  }
}
