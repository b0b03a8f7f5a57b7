package io.skippipe.job.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.TextTokenizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The data a convergence probe trains on: a sample of the user's training text — the first
 * {@link #MAX_BYTES} of it, as lines of a text file or the {@code field} of JSON lines
 * ({@code .jsonl}/{@code .json}), from any Hadoop URI or local path (a directory: its files in
 * name order) — or the bundled corpus when no input is given; tokenized with the run's tokenizer
 * (or the bundled one) and packed like the training shards.
 */
public final class ProbeData {
  private ProbeData() {}

  /** Bytes of input text a probe reads at most (a sample is enough to compare skip ratios). */
  public static final long MAX_BYTES = 16L << 20;

  /**
   * Packed probe data.
   *
   * @param input Hadoop URI or path of text / JSON lines; empty = the bundled corpus
   * @param jsonField the text field of JSON lines
   * @param tokenizerJson tokenizer.json bytes, or null for the bundled tokenizer
   * @throws IllegalArgumentException when the input cannot be read or holds too little text, or
   *     the tokenizer's vocabulary exceeds {@code modelVocab}
   */
  public static PackedDataset load(String input, String jsonField, byte[] tokenizerJson,
      int seqLen, int modelVocab) {
    List<String> docs = input.isEmpty() ? Corpus.trainDocuments() : read(input, jsonField);
    try (TextTokenizer tok = tokenizerJson == null ? TextTokenizer.bundled()
        : TextTokenizer.fromJson(tokenizerJson, "tokenizer.json")) {
      if (tok.vocabSize() > modelVocab) {
        throw new IllegalArgumentException("the tokenizer's vocabulary (" + tok.vocabSize()
            + ") exceeds the probe model's (" + modelVocab + ")");
      }
      return PackedDataset.of(tok, docs, seqLen);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot load the tokenizer: " + e.getMessage(), e);
    }
  }

  private static List<String> read(String input, String jsonField) {
    Path root = new Path(HadoopConfs.toUri(input));
    List<String> docs = new ArrayList<>();
    try {
      FileSystem fs = root.getFileSystem(HadoopConfs.current());
      FileStatus[] files = fs.getFileStatus(root).isDirectory() ? fs.listStatus(root)
          : new FileStatus[] {fs.getFileStatus(root)};
      Arrays.sort(files, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
      long budget = MAX_BYTES;
      ObjectMapper json = new ObjectMapper();
      for (FileStatus f : files) {
        String name = f.getPath().getName().toLowerCase(Locale.ROOT);
        if (!f.isFile() || name.startsWith("_") || name.startsWith(".") || budget <= 0) {
          continue;
        }
        boolean jsonLines = name.endsWith(".jsonl") || name.endsWith(".json");
        try (InputStream in = fs.open(f.getPath());
            BufferedReader r = new BufferedReader(new InputStreamReader(in,
                StandardCharsets.UTF_8))) {
          String line;
          while (budget > 0 && (line = r.readLine()) != null) {
            budget -= line.length() + 1;
            if (jsonLines && !line.isBlank()) {
              JsonNode v = json.readTree(line).get(jsonField);
              line = v == null ? "" : v.asText();
            }
            if (!line.isBlank()) {
              docs.add(line);
            }
          }
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read probe data " + input + ": " + e, e);
    }
    if (docs.isEmpty()) {
      throw new IllegalArgumentException("probe data " + input + " holds no text");
    }
    return docs;
  }
}
