package io.skippipe.job.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import io.skippipe.job.cli.SkipPipeCli;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The e2e benchmark's arguments: documented defaults, flags, and user errors (exit 2). */
class E2eBenchTest {
  @Test
  void defaultsAreThePaddedEmulationOnLaptopGeo12() {
    E2eBench.Options o = parse();
    assertEquals(new E2eBench.Options(false, "laptop-geo-12", "llama-tiny", "llama-tiny", 4, 10.0,
        true, java.util.List.of("skippipe", "dtfm"), null, 5), o);
    o = parse("--json", "--cluster", "laptop-geo-12-gcp500m",
        "--model", "llama-tiny", "--iterations", "3", "--time-scale", "0.1", "--pad-compute",
        "false", "--runs", "skippipe:2,skippipe:6", "--target-loss", "6.1", "--seed", "7",
        "--cost-model", "llama-500m");
    assertEquals(new E2eBench.Options(true, "laptop-geo-12-gcp500m", "llama-tiny", "llama-500m",
        3, 0.1, false, java.util.List.of("skippipe:2", "skippipe:6"), 6.1, 7), o);
  }

  /**
   * The emulation of llama-500m by llama-tiny on geo-distributed-gcp-20: the simulator's times
   * for the emulated plan equal llama-500m's on the real profile (compute, hops, all-reduce).
   */
  @Test
  void theCostModelEmulationPreservesEveryModelledDuration() {
    var base = io.skippipe.scheduler.profile.Presets.cluster("geo-distributed-gcp-20");
    var tiny = io.skippipe.scheduler.profile.Presets.model("llama-tiny");
    var big = io.skippipe.scheduler.profile.Presets.model("llama-500m");
    var c = E2eBench.emulatedCluster(base, tiny, big);
    var m = E2eBench.emulatedModel(tiny, big);
    var real = io.skippipe.scheduler.cost.CostModel.of(base, big);
    var emu = io.skippipe.scheduler.cost.CostModel.of(c, m);
    assertEquals(6, m.microbatchesPerDataNode());
    for (int x = 0; x < base.size(); x++) {
      assertEquals(real.forwardMicros(x), emu.forwardMicros(x), 1);
      for (int y = 0; y < base.size(); y++) {
        assertEquals(real.hopMicros(x, y), emu.hopMicros(x, y), 1, x + "->" + y);
      }
    }
    // Equal up to the ring's whole-float segments: each of the 2(n-1) steps may carry 4 bytes
    // more or less at the scaled bandwidth (about 0.2 ms per step on these links).
    java.util.List<Integer> ring = java.util.List.of(0, 5, 13);
    for (int s = 0; s < 6; s++) {
      double want = io.skippipe.scheduler.simulate.Simulator.ringAllReduceMicros(ring, real,
          real.gradientBytes(s));
      assertEquals(want, io.skippipe.scheduler.simulate.Simulator.ringAllReduceMicros(ring, emu,
          emu.gradientBytes(s)), 1e-4 * want, "stage " + s);
    }
  }

  private static E2eBench.Options parse(String... args) {
    E2eBench b = new E2eBench();
    new CommandLine(b).parseArgs(args);
    return b.options();
  }

  @Test
  void badArgumentsExitTwoNamingTheValueWithoutAStackTrace() {
    String[][] bad = {{"e2e", "--time-scale", "0"}, {"e2e", "--iterations", "1"},
        {"e2e", "--pad-compute", "yes"}, {"e2e", "--iterations", "x"}, {"e2e", "--bogus"},
        {"e2e", "--cluster"}, {"e2e", "--runs", "skippipe:x"}, {"e2e", "--runs", "fast"}};
    for (String[] args : bad) {
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      String[] line = new String[args.length + 1];
      line[0] = "bench";
      System.arraycopy(args, 0, line, 1, args.length);
      int code = SkipPipeCli.run(line, new PrintStream(new ByteArrayOutputStream()),
          new PrintStream(err));
      String msg = err.toString();
      assertEquals(2, code, String.join(" ", args) + ": " + msg);
      assertTrue(msg.contains(args[args.length - 1]) && !msg.contains("\tat "), msg);
    }
  }
}
