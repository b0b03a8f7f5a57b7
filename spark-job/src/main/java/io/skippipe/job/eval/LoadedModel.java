package io.skippipe.job.eval;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.Commit;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.driver.DataPrep;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.spark.HadoopFolders;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.HfFolder;
import io.skippipe.model.weights.ModelExport;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.Presets;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * A whole model loaded in this JVM for evaluation or generation: every stage (weights of replica 0
 * of a committed checkpoint step, or of a Hugging Face folder), its config, and the tokenizer that
 * goes with it. Owns the stages: {@link #close} releases their native memory.
 *
 * @param config the model's shape (its {@code layersPerStage} defines the stages)
 * @param step the committed step loaded, or -1 for a Hugging Face folder
 * @param source the checkpoint step directory or model folder, for messages
 * @param stages stage 0 first
 * @param tokenizerJson the tokenizer's {@code tokenizer.json} bytes; null = the bundled tokenizer
 */
public record LoadedModel(LlamaConfig config, long step, String source, List<StageModel> stages,
    byte[] tokenizerJson) implements AutoCloseable {
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");

  /** Where a committed step lives and the model spec it was trained with. */
  public record CheckpointStep(String root, long step, LlamaConfig config) {
    /** The step directory URI. */
    public String stepDir() {
      return root + "/" + io.skippipe.job.checkpoint.CheckpointStore.stepDir(step);
    }
  }

  /**
   * Resolves {@code checkpoint} (a checkpoint root such as {@code RUN_DIR/checkpoints}, or one
   * {@code step-NNNNNN} directory; any Hadoop URI) to a committed step: {@code step} if given, else
   * the step directory's, else the newest committed one. The model is {@code model} (a preset or
   * spec file), else {@link #checkpointModel}.
   *
   * @throws IllegalArgumentException when nothing is committed there, the step is not committed,
   *     or no model spec can be found (each message names the fix)
   */
  public static CheckpointStep resolve(String checkpoint, Long step, String model,
      Configuration conf) throws IOException {
    String uri = HadoopConfs.toUri(checkpoint).toString().replaceAll("/+$", "");
    Matcher m = STEP_DIR.matcher(uri.substring(uri.lastIndexOf('/') + 1));
    String root = m.matches() ? uri.substring(0, uri.lastIndexOf('/')) : uri;
    org.apache.hadoop.fs.Path rootPath = new org.apache.hadoop.fs.Path(root);
    if (!rootPath.getFileSystem(conf).exists(rootPath)) {
      throw new IllegalArgumentException("checkpoint " + checkpoint + " does not exist; give the"
          + " run's checkpoint root (RUN_DIR/checkpoints by default) or a step-NNNNNN directory");
    }
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, conf);
    Long wanted = step != null ? step : m.matches() ? Long.valueOf(m.group(1)) : null;
    long chosen;
    if (wanted != null) {
      if (store.readCommit(wanted).isEmpty()) {
        throw new IllegalArgumentException("step " + wanted + " under " + root + " is not"
            + " committed (no _COMMITTED marker; its files may be partial). Committed steps: "
            + store.committedSteps() + ". Fix: pick one of them, or leave the step out for the"
            + " newest");
      }
      chosen = wanted;
    } else {
      Optional<Commit> latest = store.latest(null);
      if (latest.isEmpty()) {
        throw new IllegalArgumentException("no committed checkpoint under " + checkpoint
            + " (no step-NNNNNN with a _COMMITTED marker). Fix: give the run's checkpoint root"
            + " (RUN_DIR/checkpoints by default) after at least one chunk has finished");
      }
      chosen = latest.get().step();
    }
    LlamaConfig cfg = model != null ? Models.llama(Presets.model(model))
        : checkpointModel(store, chosen, conf);
    return new CheckpointStep(root, chosen, cfg);
  }

  /**
   * Loads every stage of a resolved step (replica 0, verified against the commit manifest). The
   * tokenizer is {@code tokenizerJson}, else the run's {@code RUN_DIR/tokenizer.json} (written by
   * data preparation), else the bundled one.
   */
  public static LoadedModel load(CheckpointStep at, byte[] tokenizerJson, Configuration conf)
      throws IOException {
    HadoopCheckpointStore store = new HadoopCheckpointStore(at.root(), conf);
    List<StageModel> stages = new ArrayList<>();
    try {
      for (int s = 0; s < at.config().stages(); s++) {
        StageModel m = StageModel.create(at.config(), s, 0L);
        stages.add(m);
        StageState.loadWeights(store, at.step(), s, m);
      }
    } catch (IOException | RuntimeException e) {
      stages.forEach(StageModel::close);
      throw e;
    }
    byte[] tok = tokenizerJson;
    org.apache.hadoop.fs.Path runTokenizer = new org.apache.hadoop.fs.Path(
        new org.apache.hadoop.fs.Path(at.root()).getParent(), DataPrep.TOKENIZER_FILE);
    FileSystem fs = runTokenizer.getFileSystem(conf);
    if (tok == null && fs.isFile(runTokenizer)) {
      try (InputStream in = fs.open(runTokenizer)) {
        tok = in.readAllBytes();
      }
    }
    return new LoadedModel(at.config(), at.step(), at.stepDir(), stages, tok);
  }

  /**
   * Loads a Hugging Face folder ({@code config.json}, safetensors, optional {@code
   * tokenizer.json}; a local path or any Hadoop URI) cut into stages of {@code layersPerStage}
   * layers; sequences are at most {@code seqLen} positions (null: the folder's {@code
   * max_position_embeddings}).
   *
   * @throws IllegalArgumentException when the folder holds no model or {@code layersPerStage}
   *     does not divide its layers
   */
  public static LoadedModel fromHfFolder(String dir, int layersPerStage, Integer seqLen,
      Configuration conf) throws IOException {
    HfFolder folder;
    try {
      folder = HadoopFolders.read(dir, conf);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--model-dir " + e.getMessage(), e);
    }
    HfConfig c = folder.config();
    if (layersPerStage < 1 || c.numHiddenLayers() % layersPerStage != 0) {
      throw new IllegalArgumentException("--layers-per-stage " + layersPerStage + " does not"
          + " divide the model's " + c.numHiddenLayers() + " layers; choose a divisor");
    }
    LlamaConfig cfg = c.llamaConfig(seqLen != null ? seqLen : c.maxPositionEmbeddings(),
        layersPerStage);
    Map<String, float[]> all = new LinkedHashMap<>();
    folder.readAll().forEach((k, v) -> all.put(k, v.data()));
    List<Map<String, float[]>> perStage = new ArrayList<>();
    for (int s = 0; s < cfg.stages(); s++) {
      perStage.add(all); // a stage takes its own tensors and ignores the others
    }
    org.apache.hadoop.fs.Path tok = new org.apache.hadoop.fs.Path(HadoopConfs.toUri(dir)
        + "/" + ModelExport.TOKENIZER);
    FileSystem fs = tok.getFileSystem(conf);
    byte[] tokenizer = null;
    if (fs.isFile(tok)) {
      try (InputStream in = fs.open(tok)) {
        tokenizer = in.readAllBytes();
      }
    }
    return new LoadedModel(cfg, -1, dir, stages(cfg, perStage), tokenizer);
  }

  /** This model's tokenizer (the caller closes it). */
  public TextTokenizer tokenizer() throws IOException {
    TextTokenizer t = tokenizerJson == null ? TextTokenizer.bundled()
        : TextTokenizer.fromJson(tokenizerJson, source + " tokenizer.json");
    if (t.vocabSize() > config.vocab()) {
      String desc = t.toString();
      t.close();
      throw new IllegalArgumentException("the tokenizer " + desc + " has more ids than the"
          + " model's vocabulary of " + config.vocab() + "; give the tokenizer the model was"
          + " trained with (--tokenizer)");
    }
    return t;
  }

  /** Checks a set of stages to omit against this model ({@link Perplexity#checkOmitted}). */
  public void checkOmitted(java.util.Set<Integer> omitted) {
    Perplexity.checkOmitted(stages, omitted);
  }

  @Override
  public void close() {
    stages.forEach(StageModel::close);
  }

  private static List<StageModel> stages(LlamaConfig cfg, List<Map<String, float[]>> weights) {
    List<StageModel> stages = new ArrayList<>();
    try {
      for (int s = 0; s < cfg.stages(); s++) {
        StageModel m = StageModel.create(cfg, s, 0L);
        stages.add(m);
        m.importWeights(weights.get(s));
      }
    } catch (RuntimeException e) {
      stages.forEach(StageModel::close);
      throw e;
    }
    return stages;
  }

  /**
   * The model a committed step holds: the architecture it records ({@link
   * StageState#recordedModel}: RoPE theta, RMSNorm epsilon and tied embeddings included), or, for
   * checkpoints written before it was recorded, the {@code "model"} of {@code RUN_DIR/plan.json}
   * next to the checkpoint root.
   *
   * @throws IllegalArgumentException when neither exists (the message names {@code --model})
   */
  public static LlamaConfig checkpointModel(CheckpointStore store, long step, Configuration conf)
      throws IOException {
    LlamaConfig recorded = StageState.recordedModel(store, step);
    if (recorded != null) {
      return recorded;
    }
    org.apache.hadoop.fs.Path plan = new org.apache.hadoop.fs.Path(
        new org.apache.hadoop.fs.Path(store.root()).getParent(), "plan.json");
    FileSystem fs = plan.getFileSystem(conf);
    if (!fs.exists(plan)) {
      throw new IllegalArgumentException("no --model given, no model recorded in step " + step
          + " and no " + plan + " to read the model spec from; pass --model PRESET_OR_JSON (the"
          + " spark.skippipe.model of the run)");
    }
    try (InputStream in = fs.open(plan)) {
      return Models.llama(PlanCodec.read(in, plan.toString()).model());
    }
  }
}
