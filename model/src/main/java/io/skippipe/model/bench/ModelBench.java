package io.skippipe.model.bench;

import java.io.PrintStream;

/** Model benchmarks of bin/skippipe bench: model, convergence. (Being built under issue 3.) */
public final class ModelBench {
  private ModelBench() {}

  /** Runs one benchmark; {@code args[0]} is its name. Returns the exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    err.println("skippipe bench " + args[0] + ": not implemented yet");
    return 1;
  }
}
