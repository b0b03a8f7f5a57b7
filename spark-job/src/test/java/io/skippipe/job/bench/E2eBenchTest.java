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
    assertEquals(new E2eBench.Options(false, "laptop-geo-12", "llama-tiny", 4, 10.0, true), o);
    o = parse("--json", "--cluster", "laptop-geo-12-gcp500m",
        "--model", "llama-tiny", "--iterations", "3", "--time-scale", "0.1", "--pad-compute",
        "false");
    assertEquals(new E2eBench.Options(true, "laptop-geo-12-gcp500m", "llama-tiny", 3, 0.1, false),
        o);
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
        {"e2e", "--cluster"}};
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
