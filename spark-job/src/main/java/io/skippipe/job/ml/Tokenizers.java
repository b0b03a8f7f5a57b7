package io.skippipe.job.ml;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.data.TextTokenizer;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.fs.Path;

/**
 * Opens the tokenizer a Spark ML stage names: the bundled one for an empty URI, else a Hugging Face
 * {@code tokenizer.json} at a Hadoop URI or local path (read with a Hadoop configuration built in
 * the calling thread, stack-probe §5.3, and handed to DJL through a temporary file). The same rule
 * as the training job's {@code spark.skippipe.data.tokenizer}.
 */
final class Tokenizers {
  private Tokenizers() {}

  /** The bundled tokenizer, or the one at {@code uri}; the caller closes it. */
  static TextTokenizer open(String uri) throws IOException {
    if (uri == null || uri.isEmpty()) {
      return TextTokenizer.bundled();
    }
    Path p = new Path(HadoopConfs.toUri(uri));
    byte[] json;
    try (InputStream in = p.getFileSystem(HadoopConfs.current()).open(p)) {
      json = in.readAllBytes();
    }
    return TextTokenizer.fromJson(json, uri);
  }
}
