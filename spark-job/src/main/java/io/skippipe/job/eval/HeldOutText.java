package io.skippipe.job.eval;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.Perplexity;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Held-out text for evaluation: the bundled corpus's validation split, or UTF-8 text files at a
 * Hadoop URI in the corpus format (documents separated by a line holding one form feed; a file
 * without one is one document; {@code .gz} files are gunzipped), packed into sequences the way
 * training data is.
 */
public final class HeldOutText {
  private HeldOutText() {}

  /**
   * The documents of {@code data}: empty = the bundled validation split; else a file, or every
   * file directly in a directory (names starting with {@code _} or {@code .} skipped), in name
   * order.
   *
   * @throws IllegalArgumentException when {@code data} does not exist or holds no text
   */
  public static List<String> documents(String data, Configuration conf) throws IOException {
    if (data == null || data.isEmpty()) {
      return Corpus.validationDocuments();
    }
    Path p = new Path(HadoopConfs.toUri(data));
    FileSystem fs = p.getFileSystem(conf);
    if (!fs.exists(p)) {
      throw new IllegalArgumentException("held-out data " + data + " does not exist; give a text"
          + " file or a directory of them (Hadoop URI or local path), or leave it out for the"
          + " bundled validation split");
    }
    FileStatus[] files = fs.getFileStatus(p).isDirectory()
        ? fs.listStatus(p, f -> !f.getName().startsWith("_") && !f.getName().startsWith("."))
        : new FileStatus[] {fs.getFileStatus(p)};
    Arrays.sort(files);
    List<String> docs = new ArrayList<>();
    for (FileStatus f : files) {
      if (!f.isFile()) {
        continue;
      }
      try (InputStream raw = fs.open(f.getPath());
          InputStream in = f.getPath().getName().endsWith(".gz") ? new GZIPInputStream(raw)
              : raw) {
        docs.addAll(Corpus.readDocuments(in));
      }
    }
    if (docs.isEmpty()) {
      throw new IllegalArgumentException("held-out data " + data + " holds no text; give UTF-8"
          + " text files");
    }
    return docs;
  }

  /**
   * Up to {@code count} sequences of {@code seqLen+1} token ids, spread evenly over the packed
   * documents ({@link Perplexity#spread}).
   *
   * @throws IllegalArgumentException when the text is too short for one sequence
   */
  public static List<int[]> sequences(List<String> docs, TextTokenizer tokenizer, int seqLen,
      int count) {
    PackedDataset packed = PackedDataset.pack(tokenizer.encodeAll(docs), tokenizer.eosId(),
        seqLen);
    if (packed.size() == 0) {
      throw new IllegalArgumentException("the held-out text has fewer than " + (seqLen + 1)
          + " tokens, not enough for one sequence of the model's length " + seqLen + "; give more"
          + " text");
    }
    return Perplexity.spread(packed, count);
  }
}
