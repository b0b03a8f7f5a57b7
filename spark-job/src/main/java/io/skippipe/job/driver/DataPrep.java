package io.skippipe.job.driver;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.TextTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * Step 1 of the job, an ordinary Spark job: read documents (text lines, JSON lines or Parquet from
 * any Hadoop URI, or the bundled corpus), deal them round-robin to the data nodes, and in one task
 * per data node tokenize (DJL HF tokenizers), pack into fixed-length sequences and write
 * {@code RUN_DIR/data/shard-<node>.bin}. Training tasks read only their own shard.
 */
public final class DataPrep {
  private DataPrep() {}

  /** Writes one shard per data node; returns data node → shard URI. */
  public static Map<Integer, String> prepare(SparkSession spark, JobConfig cfg,
      List<Integer> dataNodes, int seqLen, int modelVocab, Map<String, String> hadoop)
      throws IOException {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaRDD<String> docs = documents(spark, jsc, cfg);
    byte[] tokenizerJson = tokenizerBytes(cfg, hadoop);
    try (TextTokenizer probe = tokenizer(tokenizerJson)) {
      if (probe.vocabSize() > modelVocab) {
        throw new ConfigException(ConfigKeys.DATA_TOKENIZER.name(), cfg.data().tokenizer(),
            "its vocabulary (" + probe.vocabSize() + ") exceeds the model's (" + modelVocab + ")",
            "use a tokenizer with at most " + modelVocab + " tokens or a model with a larger vocab");
      }
    }
    int d = dataNodes.size();
    String dir = stripSlash(cfg.runDir()) + "/data";
    List<Integer> nodes = List.copyOf(dataNodes);
    List<Tuple2<Integer, String>> written = docs.zipWithIndex()
        .mapToPair(t -> new Tuple2<>((int) (t._2() % d), t._1()))
        .partitionBy(new org.apache.spark.HashPartitioner(d))
        .mapPartitionsWithIndex((Integer part, Iterator<Tuple2<Integer, String>> it) -> {
          List<String> texts = new ArrayList<>();
          it.forEachRemaining(t -> texts.add(t._2()));
          String uri = dir + "/shard-" + nodes.get(part) + ".bin";
          try (TextTokenizer tok = tokenizer(tokenizerJson)) {
            PackedDataset packed = PackedDataset.pack(tok.encodeAll(texts), tok.eosId(), seqLen);
            Path p = new Path(HadoopConfs.toUri(uri));
            try (OutputStream out = p.getFileSystem(HadoopConfs.current(hadoop)).create(p, true)) {
              packed.writeTo(out);
            }
          }
          return List.of(new Tuple2<>(nodes.get(part), uri)).iterator();
        }, true).collect();
    Map<Integer, String> shards = new HashMap<>();
    for (Tuple2<Integer, String> t : written) {
      shards.put(t._1(), t._2());
    }
    return shards;
  }

  private static JavaRDD<String> documents(SparkSession spark, JavaSparkContext jsc,
      JobConfig cfg) {
    String input = cfg.data().input();
    if (input.isEmpty()) {
      return jsc.parallelize(Corpus.trainDocuments(), 4);
    }
    String format = cfg.data().format();
    if (format.equals("auto")) {
      String lower = input.toLowerCase(java.util.Locale.ROOT);
      format = lower.endsWith(".parquet") || lower.contains(".parquet/") ? "parquet"
          : lower.endsWith(".jsonl") || lower.endsWith(".json") || lower.endsWith(".jsonl.gz")
          ? "jsonl" : "text";
    }
    String field = cfg.data().jsonField();
    JavaRDD<String> raw = switch (format) {
      case "jsonl" -> spark.read().json(input).select(field).as(Encoders.STRING()).toJavaRDD();
      case "parquet" -> spark.read().parquet(input).select(field).as(Encoders.STRING())
          .toJavaRDD();
      default -> spark.read().textFile(input).toJavaRDD();
    };
    return raw.filter(s -> s != null && !s.isBlank());
  }

  private static byte[] tokenizerBytes(JobConfig cfg, Map<String, String> hadoop)
      throws IOException {
    if (cfg.data().tokenizer().isEmpty()) {
      return null;
    }
    Path p = new Path(HadoopConfs.toUri(cfg.data().tokenizer()));
    try (InputStream in = p.getFileSystem(HadoopConfs.current(hadoop)).open(p)) {
      return in.readAllBytes();
    }
  }

  /** The bundled tokenizer, or one from tokenizer.json bytes. */
  static TextTokenizer tokenizer(byte[] json) throws IOException {
    return json == null ? TextTokenizer.bundled() : TextTokenizer.fromJson(json, "tokenizer.json");
  }

  static String stripSlash(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }
}
