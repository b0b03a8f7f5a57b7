package io.skippipe.job.ml;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.eval.LoadedModel;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.scheduler.profile.ModelSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A SkipPipe language model fitted by {@link SkipPipeLanguageModel}: a pointer to a committed
 * checkpoint ({@code .../checkpoints/step-NNNNNN}, any Hadoop URI) and the model spec it was
 * trained with. {@link #transform} adds per-row {@code loss} (mean next-token NLL in nats over the
 * row's token ids, see {@link RowLoss}) and {@code perplexity = exp(loss)}, optionally with stages
 * omitted (the paper's layer-omission evaluation); rows with fewer than two ids get nulls.
 *
 * <p>Each partition loads all stages' weights ({@code
 * step-N/stage-SS/replica-0/weights.safetensors}, the replicas of a stage being equal after each
 * step's all-reduce) once, with a Hadoop configuration built inside the task (stack-probe §5.3),
 * and closes them after the partition. Saving writes the params only (MLlib's default writer): the
 * checkpoint is referenced, not copied, so it must outlive the saved model (mind {@code
 * spark.skippipe.checkpoint.keep} when training again in the same run directory).
 */
public final class SkipPipeLanguageModelModel extends Model<SkipPipeLanguageModelModel>
    implements DefaultParamsWritable {
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String uid;
  private final Param<String> checkpoint;
  private final Param<String> modelSpec;
  private final Param<String> tokensCol;
  private final Param<String> lossCol;
  private final Param<String> perplexityCol;
  private final IntArrayParam omitStages;

  /** The constructor MLlib's reader calls (params follow from the saved metadata). */
  public SkipPipeLanguageModelModel(String uid) {
    this.uid = uid;
    checkpoint = new Param<>(this, "checkpoint", "The committed checkpoint step directory"
        + " (Hadoop URI) whose weights the model uses: RUN_DIR/checkpoints/step-NNNNNN.");
    modelSpec = new Param<>(this, "modelSpec", "The model's shape as JSON (dim, layers, heads,"
        + " kvHeads, ffnDim, vocab, seqLen, layersPerStage), from the run's plan.json.");
    tokensCol = new Param<>(this, "tokensCol", "Column of token ids (array<int>), e.g. the output"
        + " of SkipPipeTokenizer.");
    lossCol = new Param<>(this, "lossCol", "Output column: mean next-token NLL (nats) of the row.");
    perplexityCol = new Param<>(this, "perplexityCol", "Output column: exp(loss).");
    omitStages = new IntArrayParam(this, "omitStages", "Stages (1..stages-1) to skip in the"
        + " forward pass, the paper's layer-omission evaluation; empty = the full model.");
    setDefault(tokensCol, "tokens");
    setDefault(lossCol, "loss");
    setDefault(perplexityCol, "perplexity");
    setDefault(omitStages, new int[0]);
  }

  /** A model for a committed step directory and the spec it was trained with. */
  public SkipPipeLanguageModelModel(String uid, String checkpointUri, ModelSpec spec) {
    this(uid);
    set(checkpoint, checkpointUri);
    set(modelSpec, specJson(spec));
  }

  public SkipPipeLanguageModelModel() {
    this(Identifiable$.MODULE$.randomUID("skippipeLanguageModel"));
  }

  public static MLReader<SkipPipeLanguageModelModel> read() {
    return new DefaultParamsReader<>();
  }

  public static SkipPipeLanguageModelModel load(String path) {
    return read().load(path);
  }

  @Override
  public String uid() {
    return uid;
  }

  public Param<String> checkpoint() {
    return checkpoint;
  }

  public Param<String> modelSpec() {
    return modelSpec;
  }

  public Param<String> tokensCol() {
    return tokensCol;
  }

  public Param<String> lossCol() {
    return lossCol;
  }

  public Param<String> perplexityCol() {
    return perplexityCol;
  }

  public IntArrayParam omitStages() {
    return omitStages;
  }

  public String getCheckpoint() {
    return $(checkpoint);
  }

  public String getTokensCol() {
    return $(tokensCol);
  }

  public String getLossCol() {
    return $(lossCol);
  }

  public String getPerplexityCol() {
    return $(perplexityCol);
  }

  public int[] getOmitStages() {
    return (int[]) $(omitStages);
  }

  public SkipPipeLanguageModelModel setTokensCol(String v) {
    set(tokensCol, v);
    return this;
  }

  public SkipPipeLanguageModelModel setLossCol(String v) {
    set(lossCol, v);
    return this;
  }

  public SkipPipeLanguageModelModel setPerplexityCol(String v) {
    set(perplexityCol, v);
    return this;
  }

  public SkipPipeLanguageModelModel setOmitStages(int... stages) {
    set(omitStages, stages.clone());
    return this;
  }

  /** The LLaMA configuration of {@link #modelSpec()}. */
  public LlamaConfig llamaConfig() {
    return llama(JSON, $(modelSpec));
  }

  @Override
  public StructType transformSchema(StructType schema) {
    MlSchemas.requireColumn(schema, getTokensCol(), new ArrayType(DataTypes.IntegerType, false),
        "tokensCol", "an array<int> column of token ids (SkipPipeTokenizer's output)");
    MlSchemas.requireAbsent(schema, getLossCol(), "lossCol");
    MlSchemas.requireAbsent(schema, getPerplexityCol(), "perplexityCol");
    return schema.add(getLossCol(), DataTypes.DoubleType, true)
        .add(getPerplexityCol(), DataTypes.DoubleType, true);
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    LlamaConfig cfg = llamaConfig();
    Set<Integer> omitted = omitted(cfg);
    String[] rootAndStep = committedStep(getCheckpoint());
    String root = rootAndStep[0];
    long step = Long.parseLong(rootAndStep[1]);
    String spec = $(modelSpec);
    int tokensIndex = dataset.schema().fieldIndex(getTokensCol());
    JavaRDD<Row> rows = dataset.toDF().javaRDD().mapPartitions((Iterator<Row> it) -> {
      List<Row> done = new ArrayList<>();
      if (!it.hasNext()) {
        return done.iterator();
      }
      // the architecture the checkpoint records (RoPE theta, tied embeddings), else the fit's spec
      LlamaConfig recorded = io.skippipe.job.checkpoint.StageState.recordedModel(
          new io.skippipe.job.checkpoint.HadoopCheckpointStore(root, HadoopConfs.current()), step);
      List<StageModel> stages = loadStages(root, step,
          recorded != null ? recorded : llama(new ObjectMapper(), spec));
      try {
        RowLoss loss = new RowLoss(stages, omitted);
        while (it.hasNext()) {
          Row r = it.next();
          Double l = null;
          if (!r.isNullAt(tokensIndex)) {
            List<Integer> ids = r.getList(tokensIndex);
            double[] sumCount = loss.sumNll(ids.stream().mapToInt(Integer::intValue).toArray());
            l = sumCount[1] == 0 ? null : sumCount[0] / sumCount[1];
          }
          done.add(MlSchemas.append(r, l, l == null ? null : Math.exp(l)));
        }
      } finally {
        for (StageModel s : stages) {
          s.close();
        }
      }
      return done.iterator();
    });
    return dataset.sparkSession().createDataFrame(rows, out);
  }

  /**
   * All stages of the model with the weights of {@code root/step-N}; the caller closes them.
   * Public for checks that compare {@link #transform} with a direct computation.
   */
  public static List<StageModel> loadStages(String root, long step, LlamaConfig cfg)
      throws IOException {
    return LoadedModel.load(new LoadedModel.CheckpointStep(root, step, cfg), null,
        HadoopConfs.current()).stages();
  }

  /**
   * {@code [root, step]} of a step directory URI; throws when the step is not (or no longer)
   * committed.
   */
  static String[] committedStep(String stepDirUri) {
    String uri = stepDirUri.replaceAll("/+$", "");
    int slash = uri.lastIndexOf('/');
    Matcher m = STEP_DIR.matcher(uri.substring(slash + 1));
    if (slash < 0 || !m.matches()) {
      throw new IllegalArgumentException("checkpoint '" + stepDirUri + "' is not a step directory;"
          + " it must end in step-NNNNNN (the checkpoint a fit returned, e.g."
          + " RUN_DIR/checkpoints/step-000006)");
    }
    String root = uri.substring(0, slash);
    long step = Long.parseLong(m.group(1));
    try {
      if (new HadoopCheckpointStore(root, HadoopConfs.current()).readCommit(step).isEmpty()) {
        throw new IllegalStateException("checkpoint " + stepDirUri + " has no _COMMITTED marker:"
            + " it was deleted (spark.skippipe.checkpoint.keep retention after more training in"
            + " the same run directory?) or never committed; fit again or point the model at a"
            + " committed step");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint " + stepDirUri, e);
    }
    return new String[] {root, Long.toString(step)};
  }

  private Set<Integer> omitted(LlamaConfig cfg) {
    Set<Integer> set = new HashSet<>();
    for (int s : getOmitStages()) {
      if (s < 1 || s >= cfg.stages()) {
        throw new IllegalArgumentException("omitStages contains " + s + " but only stages 1.."
            + (cfg.stages() - 1) + " can be omitted (stage 0 holds the embedding, final norm and"
            + " LM head); set omitStages to stages in that range");
      }
      set.add(s);
    }
    return set;
  }

  static String specJson(ModelSpec m) {
    ObjectNode n = JSON.createObjectNode();
    n.put("name", m.name()).put("dim", m.dim()).put("layers", m.layers()).put("heads", m.heads())
        .put("kvHeads", m.kvHeads()).put("ffnDim", m.ffnDim()).put("vocab", m.vocab())
        .put("seqLen", m.seqLen()).put("layersPerStage", m.layersPerStage());
    return n.toString();
  }

  private static LlamaConfig llama(ObjectMapper json, String spec) {
    try {
      JsonNode n = json.readTree(spec);
      return LlamaConfig.of(n.get("dim").asInt(), n.get("layers").asInt(), n.get("heads").asInt(),
          n.get("kvHeads").asInt(), n.get("ffnDim").asInt(), n.get("vocab").asInt(),
          n.get("seqLen").asInt(), n.get("layersPerStage").asInt());
    } catch (IOException | NullPointerException e) {
      throw new IllegalArgumentException("modelSpec '" + spec + "' is not the JSON a fit writes"
          + " (dim, layers, heads, kvHeads, ffnDim, vocab, seqLen, layersPerStage); refit the"
          + " model or restore the saved metadata", e);
    }
  }

  @Override
  public SkipPipeLanguageModelModel copy(ParamMap extra) {
    SkipPipeLanguageModelModel m = defaultCopy(extra);
    return m.setParent(parent());
  }
}
