package io.skippipe.job.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.ModelExport;
import io.skippipe.model.weights.Safetensors.Tensor;
import io.skippipe.model.weights.StageCheckpoint;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code bin/skippipe export}: turns a committed SkipPipe checkpoint into a Hugging Face model folder
 * ({@code config.json}, {@code generation_config.json}, {@code model.safetensors} or shards with
 * {@code model.safetensors.index.json}, {@code tokenizer.json}) that {@code
 * LlamaForCausalLM.from_pretrained} reads.
 *
 * <p>The command line is {@code io.skippipe.job.cli.ExportCommand}. The checkpoint is the run's checkpoint root (the newest committed step is exported) or one
 * {@code step-NNNNNN} directory (which must be committed). Each stage's weights are read from replica
 * 0 ({@code step-N/stage-SS/replica-0/}{@link StageState#WEIGHTS}, as the stage tasks write them);
 * the replicas of a stage hold the same weights after each step's all-reduce. The model spec comes from {@code --model}, or
 * else from the run's {@code plan.json} next to the checkpoint root (its {@code "model"} object).
 */
public final class CheckpointExport {
  private CheckpointExport() {}

  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What was exported. */
  public record Result(long step, int stages, long parameters, List<String> files) {}

  /**
   * Exports the checkpoint {@code checkpoint} (root or step directory; any Hadoop URI or path) to
   * the local folder {@code outDir}.
   *
   * @param model a model preset or spec path; null = the run's plan.json
   * @param tokenizerJson the tokenizer to ship; null = the bundled corpus tokenizer
   */
  public static Result export(String checkpoint, Path outDir, String model, Path tokenizerJson,
      long maxShardBytes) throws IOException {
    Configuration conf = HadoopConfs.current();
    String uri = HadoopConfs.toUri(checkpoint).toString().replaceAll("/+$", "");
    String last = uri.substring(uri.lastIndexOf('/') + 1);
    Matcher stepDir = STEP_DIR.matcher(last);
    String root = stepDir.matches() ? uri.substring(0, uri.lastIndexOf('/')) : uri;
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, conf);
    long step;
    if (stepDir.matches()) {
      step = Long.parseLong(stepDir.group(1));
      if (store.readCommit(step).isEmpty()) {
        throw new IllegalArgumentException(checkpoint + " is not committed (no _COMMITTED): its"
            + " files may be partial; export the checkpoint root to take the newest committed step");
      }
    } else {
      Optional<Commit> latest = store.latest(null);
      if (latest.isEmpty()) {
        throw new IllegalArgumentException("no committed checkpoint under " + checkpoint + "; give"
            + " the run's checkpoint root (RUN_DIR/checkpoints by default) or a step-NNNNNN directory"
            + " with a _COMMITTED marker");
      }
      step = latest.get().step();
    }

    LlamaConfig cfg = model != null ? LlamaConfig.preset(model) : modelFromPlan(root, conf);
    // The bundled tokenizer uses id 0 for both BOS and EOS (HfConfig.from).
    HfConfig hf = HfConfig.from(cfg, 0, 0);
    List<Map<String, Tensor>> stages = new ArrayList<>();
    for (int s = 0; s < cfg.stages(); s++) {
      String file = root + "/" + CheckpointStore.stepDir(step) + "/"
          + CheckpointStore.replicaFile(s, 0, StageState.WEIGHTS);
      byte[] bytes;
      try (InputStream in = store.open(step, CheckpointStore.replicaFile(s, 0,
          StageState.WEIGHTS))) {
        bytes = in.readAllBytes();
      }
      stages.add(StageCheckpoint.readWeights(new ByteArrayInputStream(bytes), bytes.length,
          file, hf, s, cfg.layersPerStage()));
    }
    Map<String, Tensor> weights = ModelExport.mergeStages(hf, stages);

    Path tokenizer = tokenizerJson;
    Path tmp = null;
    try {
      if (tokenizer == null) {
        tmp = Files.createTempFile("skippipe-tokenizer", ".json");
        try (InputStream in = CheckpointExport.class.getResourceAsStream(Corpus.TOKENIZER)) {
          if (in == null) {
            throw new IOException("bundled tokenizer " + Corpus.TOKENIZER + " not on the class path");
          }
          Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        tokenizer = tmp;
      }
      ModelExport.export(outDir, hf, weights, tokenizer, maxShardBytes);
    } finally {
      if (tmp != null) {
        Files.deleteIfExists(tmp);
      }
    }
    writeGenerationConfig(outDir.resolve("generation_config.json"), hf);

    long parameters = weights.values().stream().mapToLong(t -> t.data().length).sum();
    List<String> files;
    try (Stream<Path> s = Files.list(outDir)) {
      files = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    return new Result(step, cfg.stages(), parameters, files);
  }

  /** The model spec recorded in RUN_DIR/plan.json, RUN_DIR being the checkpoint root's parent. */
  private static LlamaConfig modelFromPlan(String root, Configuration conf) throws IOException {
    org.apache.hadoop.fs.Path plan = new org.apache.hadoop.fs.Path(
        new org.apache.hadoop.fs.Path(root).getParent(), "plan.json");
    FileSystem fs = plan.getFileSystem(conf);
    if (!fs.exists(plan)) {
      throw new IllegalArgumentException("no --model given and no " + plan + " to read the model"
          + " spec from; pass --model PRESET_OR_JSON (the spark.skippipe.model of the run)");
    }
    JsonNode model;
    try (InputStream in = fs.open(plan)) {
      model = JSON.readTree(in).get("model");
    }
    if (model == null || !model.isObject()) {
      throw new IllegalArgumentException(plan + " has no \"model\" object; pass --model");
    }
    Path spec = Files.createTempFile("skippipe-model", ".json");
    try {
      Files.write(spec, JSON.writeValueAsBytes(model));
      return LlamaConfig.fromJson(spec);
    } finally {
      Files.deleteIfExists(spec);
    }
  }

  /** {@code generation_config.json}: the token ids generation starts and stops with. */
  private static void writeGenerationConfig(Path file, HfConfig hf) throws IOException {
    ObjectNode g = JSON.createObjectNode();
    g.put("_from_model_config", true);
    g.put("bos_token_id", hf.bosTokenId());
    g.put("eos_token_id", hf.eosTokenId());
    Files.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(g));
  }
}
