package io.skippipe.job.driver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.data.DocumentReader;
import io.skippipe.job.data.InputCheck;
import io.skippipe.job.data.InputFiles;
import io.skippipe.job.data.PrepStats;
import io.skippipe.job.data.ShardManifest;
import io.skippipe.job.data.ShardWriter;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.TextTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * Step 1 of the job, an ordinary Spark job with one task per input split (docs/OPERATIONS.md
 * "Data preparation"): read the documents of text, JSON lines or Parquet from any Hadoop URI (or
 * the bundled corpus), tokenize them in bounded pieces, pack them into sequences of {@code seqLen +
 * 1} ids and deal the sequences in turn to the data nodes, each task streaming its sequences into
 * one part file per data node: {@code RUN_DIR/data/node-<id>/part-<split>.bin}. Training reads a
 * node's part files in order ({@code task.chunk.ShardSource}).
 *
 * <p>Deterministic: splits depend only on the input and {@code data.splitBytes}, and each task's
 * output only on its split, so the same input, tokenizer and settings give byte-identical shards on
 * any number of executors. The run directory also gets {@code tokenizer.json} (the tokenizer
 * trained with, which the export ships) and {@code data/shards.json} (fingerprint and counts,
 * written last); a later run with the same fingerprint reuses the shards.
 */
public final class DataPrep {
  private DataPrep() {}

  /** Documents of the bundled corpus per data-preparation task. */
  static final int BUNDLED_DOCUMENTS_PER_SPLIT = 8;
  /** The run directory's record of the tokenizer trained with. */
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What the checks found: the input files (empty for the bundled corpus), their format and the
   * tokenizer's bytes.
   */
  public record Checked(List<InputFiles.SourceFile> files, String format, byte[] tokenizerJson) {}

  /**
   * What data preparation produced.
   *
   * @param shards data node → its shard directory
   * @param stats counts of records, documents, tokens, sequences and skipped records
   * @param reused whether the shards of an earlier run with the same fingerprint were kept
   * @param seconds wall time of the preparation
   */
  public record Result(Map<Integer, String> shards, PrepStats stats, boolean reused,
      double seconds) {
    /** The console line. */
    public String summary() {
      long min = Long.MAX_VALUE;
      long max = 0;
      for (long n : stats.sequencesPerNode()) {
        min = Math.min(min, n);
        max = Math.max(max, n);
      }
      return String.format("data: %,d records, %,d documents, %,d tokens -> %,d sequences over %d"
              + " data nodes (%,d-%,d each); %s; %s", stats.records(), stats.documents(),
          stats.tokens(), stats.sequences(), shards.size(), min, max, stats.skippedSummary(),
          reused ? "reused the shards prepared earlier (same input and settings)"
              : String.format("prepared in %.1f s", seconds));
    }
  }

  /**
   * Checks, before anything is written, that the input exists and is what {@code data.format}
   * says (text that is not binary, JSON lines, Parquet with the text column) and that the tokenizer
   * exists, parses and fits the model's vocabulary of {@code modelVocab} ids.
   *
   * @throws ConfigException naming the key, the value, the rule and the fix
   */
  public static Checked check(JobConfig cfg, Configuration conf, int modelVocab)
      throws IOException {
    JobConfig.DataSettings d = cfg.data();
    byte[] tokenizerJson = tokenizerBytes(d.tokenizer(), conf);
    try (TextTokenizer tok = TextTokenizer.fromJson(tokenizerJson, d.tokenizer().isEmpty()
        ? "the bundled tokenizer" : d.tokenizer())) {
      if (tok.vocabSize() > modelVocab) {
        throw new ConfigException(ConfigKeys.DATA_TOKENIZER.name(), d.tokenizer(),
            "its vocabulary (" + tok.vocabSize() + ") exceeds the model's (" + modelVocab + ")",
            "use a tokenizer with at most " + modelVocab + " tokens or a model with a larger vocab");
      }
    } catch (ConfigException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new ConfigException(ConfigKeys.DATA_TOKENIZER.name(), d.tokenizer(), e.getMessage(),
          "give a Hugging Face tokenizer.json with a special end-of-text token");
    }
    if (d.input().isEmpty()) {
      return new Checked(List.of(), "bundled", tokenizerJson);
    }
    List<InputFiles.SourceFile> files = InputFiles.list(d.input(), conf);
    String format = InputFiles.format(d.format(), files);
    InputCheck.check(files, format, d.format(), d.input(), d.jsonField(), d.allowNonText(), conf);
    return new Checked(files, format, tokenizerJson);
  }

  /** Prepares (or reuses) the shards of {@code dataNodes}; see the class comment. */
  public static Result prepare(SparkSession spark, JobConfig cfg, List<Integer> dataNodes,
      int seqLen, int modelVocab, Map<String, String> hadoop) throws IOException {
    long t0 = System.nanoTime();
    Configuration conf = HadoopConfs.current(hadoop);
    Checked checked = check(cfg, conf, modelVocab);
    String runDir = stripSlash(cfg.runDir());
    String dataDir = runDir + "/data";
    ObjectNode settings = settings(cfg, checked, seqLen, dataNodes);
    String fingerprint = sha256(JSON.writeValueAsBytes(settings));
    write(runDir + "/" + TOKENIZER_FILE, checked.tokenizerJson(), conf);
    Map<Integer, String> shards = new LinkedHashMap<>();
    dataNodes.forEach(n -> shards.put(n, ShardWriter.nodeDir(dataDir, n)));
    Optional<PrepStats> earlier = ShardManifest.readIfSame(dataDir, fingerprint, conf);
    if (earlier.isPresent()) {
      return new Result(shards, earlier.get(), true, (System.nanoTime() - t0) / 1e9);
    }
    delete(dataDir, conf);
    List<InputFiles.Split> splits = checked.files().isEmpty()
        ? InputFiles.bundledSplits(Corpus.trainDocuments().size(), BUNDLED_DOCUMENTS_PER_SPLIT)
        : InputFiles.splits(checked.files(), cfg.data().splitBytes());
    PrepStats total = run(spark, cfg, checked, splits, dataNodes, seqLen, dataDir, hadoop);
    try {
      refuseBadInput(cfg, total, dataNodes, seqLen);
    } catch (ConfigException e) {
      delete(dataDir, conf);
      throw e;
    }
    ShardManifest.write(dataDir, fingerprint, seqLen, dataNodes, splits.size(), settings, total,
        conf);
    return new Result(shards, total, false, (System.nanoTime() - t0) / 1e9);
  }

  /** The Spark job: one task per split; returns the summed counts. */
  private static PrepStats run(SparkSession spark, JobConfig cfg, Checked checked,
      List<InputFiles.Split> splits, List<Integer> dataNodes, int seqLen, String dataDir,
      Map<String, String> hadoop) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<byte[]> tokenizer = jsc.broadcast(checked.tokenizerJson());
    JobConfig.DataSettings d = cfg.data();
    String format = checked.format();
    List<Integer> nodes = List.copyOf(dataNodes);
    jsc.setJobGroup("skippipe-data", "SkipPipe data preparation: " + splits.size() + " splits",
        false);
    try {
      List<PrepStats> parts = jsc.parallelize(splits, splits.size()).map(split -> {
        Configuration c = HadoopConfs.current(hadoop);
        try (TextTokenizer tok = TextTokenizer.fromJson(tokenizer.value(), "tokenizer.json");
            ShardWriter w = new ShardWriter(dataDir, split.index(), nodes, seqLen, tok, c)) {
          DocumentReader r = new DocumentReader(format, d.textDocument(), d.jsonField(),
              d.maxRecordBytes(), c);
          r.read(split, w);
          w.finish();
          return w.stats(r.counts());
        }
      }).collect();
      PrepStats total = PrepStats.zero(nodes.size());
      for (PrepStats p : parts) {
        total = total.plus(p);
      }
      return total;
    } finally {
      jsc.clearJobGroup();
      tokenizer.destroy();
    }
  }

  /** Refuses input that is not text, has too many skipped records or too little text. */
  private static void refuseBadInput(JobConfig cfg, PrepStats s, List<Integer> nodes,
      int seqLen) {
    JobConfig.DataSettings d = cfg.data();
    if (!d.allowNonText() && s.nonTextFraction() > InputCheck.NON_TEXT_LIMIT) {
      throw new ConfigException(ConfigKeys.DATA_INPUT.name(), d.input(), String.format(
          "does not look like UTF-8 text: %.1f%% of its %,d characters are control characters or"
              + " U+FFFD (%,d malformed UTF-8 bytes; the limit is %.0f%%)",
          100 * s.nonTextFraction(), s.chars(), s.replacedBytes(), 100 * InputCheck.NON_TEXT_LIMIT),
          "give UTF-8 text, or set " + ConfigKeys.DATA_ALLOW_NON_TEXT.name() + "=true to train on"
              + " it anyway");
    }
    if (s.skippedFraction() > d.maxSkippedFraction()) {
      throw new ConfigException(ConfigKeys.DATA_MAX_SKIPPED_FRACTION.name(),
          "" + d.maxSkippedFraction(), String.format("%s: %.1f%% of the records, more than"
              + " allowed", s.skippedSummary(), 100 * s.skippedFraction()), "fix the input (is "
              + ConfigKeys.DATA_JSON_FIELD.name() + "=" + d.jsonField() + " the text field?), raise "
              + ConfigKeys.DATA_MAX_RECORD_BYTES.name() + " for long records, or raise this"
              + " fraction to train on the rest");
    }
    for (int i = 0; i < nodes.size(); i++) {
      if (s.sequencesPerNode()[i] == 0) {
        throw new ConfigException(ConfigKeys.DATA_INPUT.name(), d.input().isEmpty()
            ? "(bundled corpus)" : d.input(), String.format("it packs into %,d sequences of"
                + " seqLen+1 = %d tokens (%,d documents, %,d tokens); data node %d gets none, and"
                + " each of the %d data nodes needs at least one", s.sequences(), seqLen + 1,
            s.documents(), s.tokens(), nodes.get(i), nodes.size()), "give more text, or a model"
                + " with a shorter seqLen");
      }
    }
  }

  /** Everything the shards depend on, in a fixed order (its SHA-256 is the fingerprint). */
  private static ObjectNode settings(JobConfig cfg, Checked checked, int seqLen,
      List<Integer> nodes) {
    JobConfig.DataSettings d = cfg.data();
    ObjectNode o = JSON.createObjectNode();
    o.put("layout", ShardManifest.FORMAT);
    o.put("input", d.input());
    o.put("format", checked.format());
    o.put("textDocument", d.textDocument());
    o.put("jsonField", d.jsonField());
    o.put("splitBytes", d.splitBytes());
    o.put("maxRecordBytes", d.maxRecordBytes());
    o.put("tokenizerSha256", sha256(checked.tokenizerJson()));
    o.put("seqLen", seqLen);
    nodes.forEach(o.putArray("dataNodes")::add);
    var files = o.putArray("files");
    for (InputFiles.SourceFile f : checked.files()) {
      files.addObject().put("uri", f.uri()).put("length", f.length())
          .put("modified", f.modified());
    }
    return o;
  }

  /** The bundled tokenizer's bytes, or those of the file at {@code uri}. */
  private static byte[] tokenizerBytes(String uri, Configuration conf) throws IOException {
    if (uri.isEmpty()) {
      return Corpus.tokenizerJson();
    }
    Path p = new Path(HadoopConfs.toUri(uri));
    FileSystem fs = p.getFileSystem(conf);
    if (!fs.isFile(p)) {
      throw new ConfigException(ConfigKeys.DATA_TOKENIZER.name(), uri, "is not a file (" + p
          + " does not exist or is a directory)", "give the Hadoop URI or path of a Hugging Face"
          + " tokenizer.json, or leave it empty for the bundled tokenizer");
    }
    try (InputStream in = fs.open(p)) {
      return in.readAllBytes();
    }
  }

  private static void write(String uri, byte[] bytes, Configuration conf) throws IOException {
    Path p = new Path(HadoopConfs.toUri(uri));
    try (OutputStream o = p.getFileSystem(conf).create(p, true)) {
      o.write(bytes);
    }
  }

  private static void delete(String uri, Configuration conf) throws IOException {
    Path p = new Path(HadoopConfs.toUri(uri));
    p.getFileSystem(conf).delete(p, true);
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String stripSlash(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }
}
