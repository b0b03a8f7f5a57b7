package io.skippipe.scheduler.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a command's output file (local path), creating its folder. */
final class OutputFiles {
  private OutputFiles() {}

  /** What goes into the file. */
  interface Body {
    void write(OutputStream o) throws IOException;
  }

  static void write(Path file, Body body) {
    try {
      if (file.toAbsolutePath().getParent() != null) {
        Files.createDirectories(file.toAbsolutePath().getParent());
      }
      try (OutputStream o = Files.newOutputStream(file)) {
        body.write(o);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
