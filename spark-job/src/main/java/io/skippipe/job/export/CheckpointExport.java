package io.skippipe.job.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.driver.DataPrep;
import io.skippipe.job.eval.LoadedModel;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.spark.HadoopFolders;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.HfTokenizerFiles;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.weights.FolderOutput;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.ModelExport;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code bin/skippipe export}: turns a committed SkipPipe checkpoint into a Hugging Face model folder
 * ({@code config.json}, {@code generation_config.json}, {@code model.safetensors} or shards with
 * {@code model.safetensors.index.json}, {@code tokenizer.json}, {@code tokenizer_config.json},
 * {@code special_tokens_map.json}) that {@code LlamaForCausalLM.from_pretrained} and {@code
 * AutoTokenizer.from_pretrained} read.
 *
 * <p>The command line is {@code io.skippipe.job.cli.ExportCommand}. The checkpoint is the run's checkpoint root (the newest committed step is exported) or one
 * {@code step-NNNNNN} directory (which must be committed). Each stage's weights are read from replica
 * 0 ({@code step-N/stage-SS/replica-0/}{@link StageState#WEIGHTS}, as the stage tasks write them);
 * the replicas of a stage hold the same weights after each step's all-reduce. The model spec comes from {@code --model}, or
 * else from the run's {@code plan.json} next to the checkpoint root (its {@code "model"} object).
 * The tokenizer is {@code --tokenizer}, or else the one the run trained with, {@code
 * RUN_DIR/tokenizer.json} (written by data preparation); its special tokens give the BOS, EOS and
 * PAD ids of the configs.
 */
public final class CheckpointExport {
  private CheckpointExport() {}

  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
  private static final String GENERATION_CONFIG = "generation_config.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What was exported. */
  public record Result(long step, int stages, long parameters, List<String> files) {}

  /**
   * Exports the checkpoint {@code checkpoint} (root or step directory; any Hadoop URI or path) to
   * the folder {@code out} (a local path or any Hadoop URI: hdfs://, s3a://; created if needed).
   * Tensors stream from the checkpoint's files into the safetensors files chunk by chunk, so no
   * file or tensor needs to fit in memory.
   *
   * @param model a model preset or spec path; null = the run's plan.json
   * @param tokenizerJson the tokenizer.json to ship (Hadoop URI or path); null = the run's
   *     {@code RUN_DIR/tokenizer.json}
   * @param maxShardBytes the largest safetensors file before sharding, bytes
   * @param conf the Hadoop configuration for every URI (HADOOP_CONF_DIR, {@code -D} settings)
   * @throws IllegalArgumentException for an uncommitted step, no commit, a missing tokenizer or
   *     an {@code out} that is a file
   */
  public static Result export(String checkpoint, String out, String model, String tokenizerJson,
      long maxShardBytes, Configuration conf) throws IOException {
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

    LlamaConfig cfg = model != null ? LlamaConfig.preset(model)
        : LoadedModel.checkpointModel(store, step, conf);
    RunTokenizer tokenizer = runTokenizer(root, tokenizerJson, cfg, conf);
    TextTokenizer.SpecialTokens special = tokenizer.special();
    // The packer starts every document with the end-of-text token: it is the model's BOS too.
    HfConfig hf = HfConfig.from(cfg, special.eos().id(), special.eos().id(), special.pad().id());
    FolderOutput folder = HadoopFolders.output(out, conf);
    try (StageFiles weights = new StageFiles(store, step, hf, cfg.stages(),
        cfg.layersPerStage())) {
      ModelExport.export(folder, hf, weights, null, maxShardBytes);
    }
    HfTokenizerFiles.write(folder, tokenizer.json(), special, cfg.seqLen());
    folder.write(GENERATION_CONFIG, generationConfig(hf));

    long parameters = io.skippipe.model.weights.LlamaTensors.model(hf).values().stream()
        .mapToLong(io.skippipe.model.weights.LlamaTensors::numel).sum();
    return new Result(step, cfg.stages(), parameters, HadoopFolders.list(out, conf));
  }

  /**
   * The tokenizer to ship: {@code tokenizerJson} if given, else RUN_DIR/tokenizer.json, RUN_DIR
   * being the checkpoint root's parent. Its vocabulary must fit the model's.
   */
  private static RunTokenizer runTokenizer(String root, String tokenizerJson, LlamaConfig cfg,
      Configuration conf) throws IOException {
    org.apache.hadoop.fs.Path p = tokenizerJson != null
        ? new org.apache.hadoop.fs.Path(HadoopConfs.toUri(tokenizerJson))
        : new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(root).getParent(),
            DataPrep.TOKENIZER_FILE);
    FileSystem fs = p.getFileSystem(conf);
    if (!fs.isFile(p)) {
      throw new IllegalArgumentException(tokenizerJson != null
          ? "--tokenizer " + tokenizerJson + " is not a file; give a Hugging Face tokenizer.json"
          : "no --tokenizer given and no " + p + " (data preparation records the tokenizer a run"
              + " trains with there); pass --tokenizer FILE, the spark.skippipe.data.tokenizer of"
              + " the run (the bundled one is model/src/main/resources" + Corpus.TOKENIZER + ")");
    }
    byte[] json;
    try (InputStream in = fs.open(p)) {
      json = in.readAllBytes();
    }
    try (TextTokenizer t = TextTokenizer.fromJson(json, p.toString())) {
      if (t.vocabSize() > cfg.vocab()) {
        throw new IllegalArgumentException(p + " has " + t.vocabSize() + " tokens but the"
            + " model's vocab is " + cfg.vocab() + "; give the tokenizer the run trained with");
      }
      return new RunTokenizer(json, t.specialTokens());
    }
  }

  /** A tokenizer.json's bytes and its special tokens. */
  private record RunTokenizer(byte[] json, TextTokenizer.SpecialTokens special) {}

  /** {@code generation_config.json}: the token ids generation starts and stops with. */
  private static byte[] generationConfig(HfConfig hf) throws IOException {
    ObjectNode g = JSON.createObjectNode();
    g.put("_from_model_config", true);
    g.put("bos_token_id", hf.bosTokenId());
    g.put("eos_token_id", hf.eosTokenId());
    g.put("pad_token_id", hf.padTokenId());
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(g);
  }
}
