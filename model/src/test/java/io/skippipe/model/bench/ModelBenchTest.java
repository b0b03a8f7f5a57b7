package io.skippipe.model.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class ModelBenchTest {

  /** The CC rules checked directly on a whole path (independent of the enumerator's pruning). */
  static boolean valid(int[] p, int stages, int length) {
    if (p.length != length || p[0] != 0) {
      return false;
    }
    boolean[] seen = new boolean[stages];
    int frontier = 0;
    int swaps = 0;
    int total = 0;
    for (int s : p) {
      if (seen[s]) {
        return false;
      }
      seen[s] = true;
      if (s - frontier > 4) {
        return false;
      }
      if (s < frontier) {
        swaps++;
        total += frontier - s;
        if (frontier - s > 1) {
          return false;
        }
      }
      frontier = Math.max(frontier, s);
    }
    return swaps <= 2 && total <= 2;
  }

  @Test
  void skipPathsAreExactlyThePathsTheConvergenceRulesAllow() {
    List<int[]> paths = SkipPaths.enumerate(6, 4, 2, 1, 2, 4);
    TreeSet<String> got = new TreeSet<>();
    paths.forEach(p -> got.add(Arrays.toString(p)));
    TreeSet<String> brute = new TreeSet<>();
    for (int a = 1; a < 6; a++) {
      for (int b = 1; b < 6; b++) {
        for (int c = 1; c < 6; c++) {
          int[] p = {0, a, b, c};
          if (valid(p, 6, 4)) {
            brute.add(Arrays.toString(p));
          }
        }
      }
    }
    assertEquals(brute, got);
    assertTrue(got.contains("[0, 2, 1, 4]"), "one swap of distance 1");
    assertTrue(got.contains("[0, 1, 2, 3]"), "in order");
    assertTrue(!got.contains("[0, 3, 1, 2]"), "swap of distance 2");
    assertTrue(!got.contains("[0, 5, 4, 3]"), "total swap distance 3");
    // Drawing is seeded and reproducible, and the omitted subsets never contain stage 0.
    assertEquals(Arrays.toString(SkipPaths.draw(paths, new SplittableRandom(3))),
        Arrays.toString(SkipPaths.draw(paths, new SplittableRandom(3))));
    List<int[]> omits = io.skippipe.model.eval.OmissionEval.halfSubsets(6, 20,
        new SplittableRandom(4));
    assertEquals(10, omits.size(), "C(5,3) distinct subsets, no more");
    for (int[] omit : omits) {
      assertEquals(3, omit.length);
      assertTrue(Arrays.stream(omit).allMatch(s -> s >= 1 && s < 6));
    }
  }

  /** The model benchmarks as {@code bin/skippipe bench} registers them. */
  @Command(name = "bench", subcommands = {StageThroughputBench.class, ConvergenceBench.class})
  static final class Bench {}

  static String[] run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = new CommandLine(new Bench()).setOut(new PrintWriter(out, true))
        .setErr(new PrintWriter(err, true)).execute(args);
    return new String[] {Integer.toString(rc), out.toString(), err.toString()};
  }

  @Test
  void badInputExitsTwoWithAMessage() {
    String[] r = run("model", "--batch", "zero");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("'--batch': 'zero'"), r[2]);
    r = run("model", "--batch", "0");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--batch is 0"), r[2]);
    r = run("convergence", "--path-length", "9");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--path-length 9"), r[2]);
    r = run("nope");
    assertEquals("2", r[0]);
    r = run("model", "--frobnicate");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("Unknown option: '--frobnicate'"), r[2]);
  }

  @Test
  void modelBenchPrintsTheContractedJsonKeys() throws Exception {
    String[] r = run("model", "--batch", "1", "--iters", "2", "--warmup", "1", "--json");
    assertEquals("0", r[0], r[2]);
    JsonNode o = new ObjectMapper().readTree(r[1]);
    List<String> keys = new ArrayList<>();
    o.fieldNames().forEachRemaining(keys::add);
    for (String k : List.of("tokensPerSecond", "stageFlops", "matmulFlops", "fraction")) {
      assertTrue(o.get(k).isNumber() && o.get(k).asDouble() > 0, k + " in " + r[1]);
    }
    assertEquals(o.get("stageFlops").asDouble() / o.get("matmulFlops").asDouble(),
        o.get("fraction").asDouble(), 1e-9);
    assertEquals(false, o.get("activationCheckpointing").asBoolean(), r[1]);

    // the memory phase: microbatches in flight, with activation checkpointing
    r = run("model", "--batch", "1", "--iters", "1", "--warmup", "0", "--in-flight", "3",
        "--activation-checkpointing", "--json");
    assertEquals("0", r[0], r[2]);
    o = new ObjectMapper().readTree(r[1]);
    assertTrue(o.get("activationCheckpointing").asBoolean(), r[1]);
    assertEquals(3, o.get("inFlight").asInt(), r[1]);
    assertTrue(o.get("heldBytesInFlight").isIntegralNumber(), r[1]);
    assertEquals(o.get("heldBytesInFlight").asLong() / 3, o.get("heldBytesPerMicrobatch")
        .asLong(), r[1]);
    r = run("model", "--in-flight", "0");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--in-flight is 0"), r[2]);
  }
}
