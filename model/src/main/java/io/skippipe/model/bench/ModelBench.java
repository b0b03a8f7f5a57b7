package io.skippipe.model.bench;

import java.io.PrintStream;

/**
 * Model benchmarks of {@code bin/skippipe bench}: {@code model} (one stage's forward+backward
 * throughput against a plain matmul, {@link StageThroughputBench}) and {@code convergence}
 * (SkipPipe paths vs full paths, then layer omission, {@link ConvergenceBench}).
 */
public final class ModelBench {
  private ModelBench() {}

  /** Runs one benchmark; {@code args[0]} is its name. Returns the exit code (2: bad input). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0) {
      err.println("skippipe bench: name a benchmark: model | convergence");
      return 2;
    }
    try {
      switch (args[0]) {
        case "model":
          return StageThroughputBench.run(args, out, err);
        case "convergence":
          return ConvergenceBench.run(args, out, err);
        default:
          err.println("skippipe bench: unknown model benchmark '" + args[0]
              + "'; use model or convergence");
          return 2;
      }
    } catch (IllegalArgumentException e) {
      err.println("skippipe bench " + args[0] + ": " + e.getMessage());
      return 2;
    }
  }
}
