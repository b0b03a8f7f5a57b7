package io.skippipe.model.bench;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code --json} and {@code --threads} flags every benchmark shares (a picocli mixin). */
public final class BenchOptions {
  @Spec(Spec.Target.MIXEE) CommandSpec spec;

  @Option(names = "--json", order = 100, description = "Print one JSON object instead of text.")
  boolean json;

  @Option(names = "--threads", paramLabel = "N", order = 101,
      description = "PyTorch intra-op threads for this process (default: libtorch's choice, one "
          + "per core; on a shared machine fewer can be faster).")
  Integer threads;

  /**
   * Applies {@code --threads N}: PyTorch's intra-op threads for this process (on a shared machine
   * the default, one per core, spin-waits for cores other processes hold). Returns the count used.
   */
  int applyThreads() {
    ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch so the setting sticks
    if (threads != null) {
      ai.djl.pytorch.jni.JniUtils.setNumThreads(positive("--threads", threads));
    }
    return ai.djl.pytorch.jni.JniUtils.getNumThreads();
  }

  /** {@code value} if it is positive, else a bad-input error naming {@code flag}. */
  long positive(String flag, long value) {
    if (value <= 0) {
      throw new ParameterException(spec.commandLine(), flag + " is " + value
          + "; it must be a positive whole number");
    }
    return value;
  }

  int positive(String flag, int value) {
    return (int) positive(flag, (long) value);
  }

  double positive(String flag, double value) {
    if (!(value > 0) || !Double.isFinite(value)) {
      throw new ParameterException(spec.commandLine(), flag + " is " + value
          + "; it must be a positive number");
    }
    return value;
  }

  /** A bad-input error of the benchmark's command line. */
  ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
