package io.skippipe.model.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory from Linux's {@code /proc/self/status}: the JVM heap, libtorch's
 * tensors and native libraries, the tokenizer's allocations and thread stacks together — what a
 * container's memory limit counts. Used by the benchmarks; Linux only.
 */
public final class ResidentMemory {
  private ResidentMemory() {}

  /**
   * The resident set now ({@code VmRSS}), in bytes.
   *
   * @throws IllegalStateException where /proc/self/status has no such line (not Linux)
   */
  public static long currentBytes() {
    return field("VmRSS:");
  }

  /**
   * The peak resident set since the process started ({@code VmHWM}, the high-water mark), in bytes.
   *
   * @throws IllegalStateException where /proc/self/status has no such line (not Linux)
   */
  public static long peakBytes() {
    return field("VmHWM:");
  }

  private static long field(String name) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(name)) { // "VmRSS:	  123456 kB"
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read /proc/self/status", e);
    }
    throw new IllegalStateException("no " + name + " in /proc/self/status (Linux only)");
  }
}
