package io.skippipe.model.weights;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Where the files of a model folder are written, by name relative to it: a local directory
 * ({@link #local}) or, in the Spark job, any Hadoop file system (HDFS, S3A). The writing twin of
 * {@link HfFolder.Files}.
 */
public interface FolderOutput {
  /**
   * Creates (or replaces) the file {@code name} of the folder; the caller writes it and closes the
   * stream.
   */
  OutputStream create(String name) throws IOException;

  /** Writes a whole small file (a config, a tokenizer). */
  default void write(String name, byte[] bytes) throws IOException {
    try (OutputStream out = create(name)) {
      out.write(bytes);
    }
  }

  /**
   * The local directory {@code dir} (created if needed). Each file is written to a temporary
   * sibling and moved into place when its stream closes, so a file present under its name is
   * complete.
   */
  static FolderOutput local(Path dir) throws IOException {
    Files.createDirectories(dir);
    return name -> {
      Path file = dir.resolve(name);
      Path tmp = dir.resolve(name + ".tmp");
      return new FilterOutputStream(Files.newOutputStream(tmp)) {
        private boolean closed;

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len); // FilterOutputStream would write byte by byte
        }

        @Override
        public void close() throws IOException {
          if (closed) {
            return;
          }
          closed = true;
          super.close();
          Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
      };
    };
  }
}
