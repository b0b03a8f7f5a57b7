package io.skippipe.model.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The public-domain English corpus bundled with the model module (King James Version of the Bible
 * and Ambrose Bierce's The Devil's Dictionary; source and licence in
 * {@code src/main/resources/corpus/SOURCE.md}) and the byte-level BPE tokenizer trained on it.
 *
 * <p>A corpus file is UTF-8 text (optionally gzip-compressed) whose documents are separated by a
 * line holding a single form feed ({@code \f}); the packer puts an EOS token between documents.
 */
public final class Corpus {
  private Corpus() {}

  /** Classpath resource of the training split. */
  public static final String TRAIN = "/corpus/train.txt.gz";
  /** Classpath resource of the held-out validation split. */
  public static final String VALIDATION = "/corpus/validation.txt.gz";
  /** Classpath resource of the tokenizer trained on {@link #TRAIN} (vocab 1024). */
  public static final String TOKENIZER = "/corpus/tokenizer.json";

  /** The documents of the bundled training split. */
  public static List<String> trainDocuments() {
    return resourceDocuments(TRAIN);
  }

  /** The documents of the bundled validation split (disjoint from the training split). */
  public static List<String> validationDocuments() {
    return resourceDocuments(VALIDATION);
  }

  /** Documents of a classpath resource in the corpus format. */
  public static List<String> resourceDocuments(String resource) {
    try (InputStream in = open(resource)) {
      return readDocuments(resource.endsWith(".gz") ? new GZIPInputStream(in) : in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Splits UTF-8 text into documents at lines holding one form feed; a document keeps its inner
   * newlines and ends with its last line's newline. Empty documents are dropped.
   */
  public static List<String> readDocuments(InputStream in) throws IOException {
    List<String> docs = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    for (String line = r.readLine(); line != null; line = r.readLine()) {
      if (line.equals("\f")) {
        if (cur.length() > 0) {
          docs.add(cur.toString());
        }
        cur.setLength(0);
      } else {
        cur.append(line).append('\n');
      }
    }
    if (cur.length() > 0) {
      docs.add(cur.toString());
    }
    return docs;
  }

  /**
   * The bundled tokenizer.json copied to {@code dir} (DJL's tokenizer and exports want a file).
   * Returns the file.
   */
  public static Path copyTokenizerTo(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path f = dir.resolve("tokenizer.json");
    try (InputStream in = open(TOKENIZER)) {
      Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
    }
    return f;
  }

  /** The bytes of the bundled {@code tokenizer.json}. */
  public static byte[] tokenizerJson() {
    try (InputStream in = open(TOKENIZER)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static InputStream open(String resource) {
    InputStream in = Corpus.class.getResourceAsStream(resource);
    if (in == null) {
      throw new IllegalStateException("classpath resource " + resource + " is missing from the"
          + " skippipe-model jar; rebuild the module (the corpus ships in src/main/resources)");
    }
    return in;
  }
}
