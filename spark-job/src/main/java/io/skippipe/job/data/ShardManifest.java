package io.skippipe.job.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.spark.HadoopConfs;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code RUN_DIR/data/shards.json}, written last by data preparation (so its presence means the
 * shards are complete): the fingerprint of everything the shards depend on (input files with
 * sizes and modification times, format settings, tokenizer, seqLen, data nodes), the layout and
 * the counts. A later run of the same directory with the same fingerprint reuses the shards.
 */
public final class ShardManifest {
  private ShardManifest() {}

  /** The manifest's file name under the data directory. */
  public static final String FILE = "shards.json";
  /** Format tag of the manifest and its layout. */
  public static final String FORMAT = "skippipe-shards/1";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Writes the manifest. */
  public static void write(String dataDir, String fingerprint, int seqLen, List<Integer> nodes,
      int splits, ObjectNode settings, PrepStats stats, Configuration conf) throws IOException {
    ObjectNode m = JSON.createObjectNode();
    m.put("format", FORMAT);
    m.put("fingerprint", fingerprint);
    m.put("seqLen", seqLen);
    m.put("splits", splits);
    m.set("settings", settings);
    ArrayNode ns = m.putArray("nodes");
    for (int i = 0; i < nodes.size(); i++) {
      ns.addObject().put("node", nodes.get(i))
          .put("dir", "node-" + nodes.get(i))
          .put("sequences", stats.sequencesPerNode()[i]);
    }
    ObjectNode s = m.putObject("stats");
    s.put("records", stats.records());
    s.put("documents", stats.documents());
    s.put("tokens", stats.tokens());
    s.put("sequences", stats.sequences());
    s.put("missingField", stats.missingField());
    s.put("empty", stats.empty());
    s.put("undecodable", stats.undecodable());
    s.put("tooLong", stats.tooLong());
    s.put("chars", stats.chars());
    s.put("nonTextChars", stats.nonTextChars());
    s.put("replacedBytes", stats.replacedBytes());
    Path p = new Path(HadoopConfs.toUri(dataDir + "/" + FILE));
    try (OutputStream o = p.getFileSystem(conf).create(p, true)) {
      o.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
    }
  }

  /** The stats of the manifest in {@code dataDir} if it exists and has this fingerprint. */
  public static Optional<PrepStats> readIfSame(String dataDir, String fingerprint,
      Configuration conf) throws IOException {
    Path p = new Path(HadoopConfs.toUri(dataDir + "/" + FILE));
    FileSystem fs = p.getFileSystem(conf);
    if (!fs.exists(p)) {
      return Optional.empty();
    }
    JsonNode m;
    try (InputStream in = fs.open(p)) {
      m = JSON.readTree(in);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return Optional.empty(); // damaged: prepare again
    }
    if (m == null || !FORMAT.equals(m.path("format").asText())
        || !fingerprint.equals(m.path("fingerprint").asText())) {
      return Optional.empty();
    }
    JsonNode s = m.path("stats");
    long[] perNode = new long[m.path("nodes").size()];
    for (int i = 0; i < perNode.length; i++) {
      perNode[i] = m.path("nodes").get(i).path("sequences").asLong();
    }
    return Optional.of(new PrepStats(s.path("records").asLong(), s.path("documents").asLong(),
        s.path("tokens").asLong(), s.path("sequences").asLong(), perNode,
        s.path("missingField").asLong(), s.path("empty").asLong(),
        s.path("undecodable").asLong(), s.path("tooLong").asLong(), s.path("chars").asLong(),
        s.path("nonTextChars").asLong(), s.path("replacedBytes").asLong()));
  }
}
