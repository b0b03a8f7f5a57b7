package io.skippipe.job.ml;

import io.skippipe.job.SkipPipeJob;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.ConfigKeys.Key;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.Settings;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.profile.ModelSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Spark ML estimator for a SkipPipe language model: {@link #fit} runs the SAME barrier training job
 * as {@code spark-submit}/{@code bin/skippipe train} ({@link SkipPipeJob#run}) on the DataFrame's
 * session and returns a {@link SkipPipeLanguageModelModel} pointing at the committed checkpoint.
 *
 * <p>Params mirror the main {@code spark.skippipe.*} keys (one Param per key, same default and doc;
 * the key is named at the end of each doc); any other key goes through {@link #setConf}. The
 * training text is the DataFrame's {@code textCol}: fit writes it as Parquet to {@code
 * RUN_DIR/ml-input/text.parquet} and points {@code spark.skippipe.data.input} at it, so the job's
 * own data preparation tokenizes it (with {@code tokenizer}, which must be the one a {@link
 * SkipPipeTokenizer} in the same pipeline uses). The session must offer one task slot per node of
 * the plan (e.g. {@code local[12]} for laptop-geo-12), as for the job itself. With {@code resume}
 * true (the key's default) a second fit in the same run directory continues from its newest commit
 * up to {@code iterations} in total, exactly as a resubmitted job does.
 */
public final class SkipPipeLanguageModel extends Estimator<SkipPipeLanguageModelModel>
    implements DefaultParamsWritable {
  /** Keys fit sets itself (the DataFrame is the input). */
  private static final List<Key> INPUT_KEYS = List.of(ConfigKeys.DATA_INPUT,
      ConfigKeys.DATA_FORMAT, ConfigKeys.DATA_JSON_FIELD);

  private final String uid;
  private final Map<Param<?>, Key> mirrored = new LinkedHashMap<>();
  private final Param<String> runDir;
  private final LongParam seed;
  private final Param<String> model;
  private final Param<String> cluster;
  private final Param<String> planMethod;
  private final Param<String> skipRatio;
  private final IntParam pathLength;
  private final Param<String> planFile;
  private final Param<String> networkMode;
  private final DoubleParam timeScale;
  private final Param<String> tokenizer;
  private final IntParam iterations;
  private final IntParam chunkIterations;
  private final DoubleParam learningRate;
  private final DoubleParam weightDecay;
  private final DoubleParam gradClipNorm;
  private final Param<String> checkpointDir;
  private final BooleanParam resume;
  private final StringArrayParam conf;
  private final Param<String> textCol;
  private final Param<String> tokensCol;
  private final Param<String> lossCol;
  private final Param<String> perplexityCol;

  public SkipPipeLanguageModel() {
    this(Identifiable$.MODULE$.randomUID("skippipeLanguageModel"));
  }

  /** The constructor MLlib's reader calls. */
  public SkipPipeLanguageModel(String uid) {
    this.uid = uid;
    runDir = mirror(new Param<>(this, "runDir", doc(ConfigKeys.RUN_DIR)), ConfigKeys.RUN_DIR);
    seed = mirror(new LongParam(this, "seed", doc(ConfigKeys.SEED)), ConfigKeys.SEED);
    model = mirror(new Param<>(this, "model", doc(ConfigKeys.MODEL)), ConfigKeys.MODEL);
    cluster = mirror(new Param<>(this, "cluster", doc(ConfigKeys.CLUSTER)), ConfigKeys.CLUSTER);
    planMethod = mirror(new Param<>(this, "planMethod", doc(ConfigKeys.PLAN_METHOD)),
        ConfigKeys.PLAN_METHOD);
    skipRatio = mirror(new Param<>(this, "skipRatio", doc(ConfigKeys.PLAN_SKIP_RATIO)),
        ConfigKeys.PLAN_SKIP_RATIO);
    pathLength = mirror(new IntParam(this, "pathLength", doc(ConfigKeys.PLAN_PATH_LENGTH)),
        ConfigKeys.PLAN_PATH_LENGTH);
    planFile = mirror(new Param<>(this, "planFile", doc(ConfigKeys.PLAN_FILE)),
        ConfigKeys.PLAN_FILE);
    networkMode = mirror(new Param<>(this, "networkMode", doc(ConfigKeys.NETWORK_MODE)),
        ConfigKeys.NETWORK_MODE);
    timeScale = mirror(new DoubleParam(this, "timeScale", doc(ConfigKeys.NETWORK_TIME_SCALE)),
        ConfigKeys.NETWORK_TIME_SCALE);
    tokenizer = mirror(new Param<>(this, "tokenizer", doc(ConfigKeys.DATA_TOKENIZER)),
        ConfigKeys.DATA_TOKENIZER);
    iterations = mirror(new IntParam(this, "iterations", doc(ConfigKeys.TRAIN_ITERATIONS)),
        ConfigKeys.TRAIN_ITERATIONS);
    chunkIterations = mirror(new IntParam(this, "chunkIterations",
        doc(ConfigKeys.TRAIN_CHUNK_ITERATIONS)), ConfigKeys.TRAIN_CHUNK_ITERATIONS);
    learningRate = mirror(new DoubleParam(this, "learningRate",
        doc(ConfigKeys.TRAIN_LEARNING_RATE)), ConfigKeys.TRAIN_LEARNING_RATE);
    weightDecay = mirror(new DoubleParam(this, "weightDecay", doc(ConfigKeys.TRAIN_WEIGHT_DECAY)),
        ConfigKeys.TRAIN_WEIGHT_DECAY);
    gradClipNorm = mirror(new DoubleParam(this, "gradClipNorm",
        doc(ConfigKeys.TRAIN_GRAD_CLIP_NORM)), ConfigKeys.TRAIN_GRAD_CLIP_NORM);
    checkpointDir = mirror(new Param<>(this, "checkpointDir", doc(ConfigKeys.CHECKPOINT_DIR)),
        ConfigKeys.CHECKPOINT_DIR);
    resume = mirror(new BooleanParam(this, "resume", doc(ConfigKeys.CHECKPOINT_RESUME)),
        ConfigKeys.CHECKPOINT_RESUME);
    conf = new StringArrayParam(this, "conf", "Further spark.skippipe.* settings as key=value"
        + " (see conf/skippipe-defaults.properties), for keys without their own Param.");
    textCol = new Param<>(this, "textCol", "Column of training text (string).");
    tokensCol = new Param<>(this, "tokensCol", "Column of token ids (array<int>) the fitted"
        + " model scores, e.g. SkipPipeTokenizer's output.");
    lossCol = new Param<>(this, "lossCol", "Output column of the fitted model: mean next-token"
        + " NLL (nats) of the row.");
    perplexityCol = new Param<>(this, "perplexityCol", "Output column of the fitted model:"
        + " exp(loss).");
    setDefault(conf, new String[0]);
    setDefault(textCol, "text");
    setDefault(tokensCol, "tokens");
    setDefault(lossCol, "loss");
    setDefault(perplexityCol, "perplexity");
  }

  private static String doc(Key k) {
    return k.doc() + " (" + k.name() + ")";
  }

  /** Registers {@code p} as the Param of {@code k}, with the key's default. */
  private <P extends Param<?>> P mirror(P p, Key k) {
    mirrored.put(p, k);
    @SuppressWarnings("unchecked")
    Param<Object> any = (Param<Object>) p;
    String d = k.defaultValue();
    Object v;
    if (p instanceof LongParam) {
      v = Long.parseLong(d);
    } else if (p instanceof IntParam) {
      v = Integer.parseInt(d);
    } else if (p instanceof DoubleParam) {
      v = Double.parseDouble(d);
    } else if (p instanceof BooleanParam) {
      v = Boolean.parseBoolean(d);
    } else {
      v = d;
    }
    setDefault(any, v);
    return p;
  }

  public static MLReader<SkipPipeLanguageModel> read() {
    return new DefaultParamsReader<>();
  }

  public static SkipPipeLanguageModel load(String path) {
    return read().load(path);
  }

  @Override
  public String uid() {
    return uid;
  }

  // --- Params (MLlib finds them by these public no-argument methods) -----------------------------

  public Param<String> runDir() {
    return runDir;
  }

  public LongParam seed() {
    return seed;
  }

  public Param<String> model() {
    return model;
  }

  public Param<String> cluster() {
    return cluster;
  }

  public Param<String> planMethod() {
    return planMethod;
  }

  public Param<String> skipRatio() {
    return skipRatio;
  }

  public IntParam pathLength() {
    return pathLength;
  }

  public Param<String> planFile() {
    return planFile;
  }

  public Param<String> networkMode() {
    return networkMode;
  }

  public DoubleParam timeScale() {
    return timeScale;
  }

  public Param<String> tokenizer() {
    return tokenizer;
  }

  public IntParam iterations() {
    return iterations;
  }

  public IntParam chunkIterations() {
    return chunkIterations;
  }

  public DoubleParam learningRate() {
    return learningRate;
  }

  public DoubleParam weightDecay() {
    return weightDecay;
  }

  public DoubleParam gradClipNorm() {
    return gradClipNorm;
  }

  public Param<String> checkpointDir() {
    return checkpointDir;
  }

  public BooleanParam resume() {
    return resume;
  }

  public StringArrayParam conf() {
    return conf;
  }

  public Param<String> textCol() {
    return textCol;
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

  // --- setters -----------------------------------------------------------------------------------

  public SkipPipeLanguageModel setRunDir(String v) {
    set(runDir, v);
    return this;
  }

  public SkipPipeLanguageModel setSeed(long v) {
    set(seed, v);
    return this;
  }

  public SkipPipeLanguageModel setModel(String v) {
    set(model, v);
    return this;
  }

  public SkipPipeLanguageModel setCluster(String v) {
    set(cluster, v);
    return this;
  }

  public SkipPipeLanguageModel setPlanMethod(String v) {
    set(planMethod, v);
    return this;
  }

  public SkipPipeLanguageModel setSkipRatio(double v) {
    set(skipRatio, Double.toString(v));
    return this;
  }

  /** A skip ratio, "" (the planner's default path length) or "auto" (tuned at job start). */
  public SkipPipeLanguageModel setSkipRatio(String v) {
    set(skipRatio, v);
    return this;
  }

  public SkipPipeLanguageModel setPathLength(int v) {
    set(pathLength, v);
    return this;
  }

  public SkipPipeLanguageModel setPlanFile(String v) {
    set(planFile, v);
    return this;
  }

  public SkipPipeLanguageModel setNetworkMode(String v) {
    set(networkMode, v);
    return this;
  }

  public SkipPipeLanguageModel setTimeScale(double v) {
    set(timeScale, v);
    return this;
  }

  public SkipPipeLanguageModel setTokenizer(String v) {
    set(tokenizer, v);
    return this;
  }

  public SkipPipeLanguageModel setIterations(int v) {
    set(iterations, v);
    return this;
  }

  public SkipPipeLanguageModel setChunkIterations(int v) {
    set(chunkIterations, v);
    return this;
  }

  public SkipPipeLanguageModel setLearningRate(double v) {
    set(learningRate, v);
    return this;
  }

  public SkipPipeLanguageModel setWeightDecay(double v) {
    set(weightDecay, v);
    return this;
  }

  public SkipPipeLanguageModel setGradClipNorm(double v) {
    set(gradClipNorm, v);
    return this;
  }

  public SkipPipeLanguageModel setCheckpointDir(String v) {
    set(checkpointDir, v);
    return this;
  }

  public SkipPipeLanguageModel setResume(boolean v) {
    set(resume, v);
    return this;
  }

  public SkipPipeLanguageModel setTextCol(String v) {
    set(textCol, v);
    return this;
  }

  public SkipPipeLanguageModel setTokensCol(String v) {
    set(tokensCol, v);
    return this;
  }

  public SkipPipeLanguageModel setLossCol(String v) {
    set(lossCol, v);
    return this;
  }

  public SkipPipeLanguageModel setPerplexityCol(String v) {
    set(perplexityCol, v);
    return this;
  }

  /**
   * Sets any other {@code spark.skippipe.*} key (e.g. {@code spark.skippipe.train.beta2}). Keys
   * with their own Param must be set through it, and the data input keys are fit's own.
   */
  public SkipPipeLanguageModel setConf(String key, String value) {
    checkConfKey(key, value);
    List<String> entries = new ArrayList<>();
    for (String e : (String[]) $(conf)) {
      if (!e.substring(0, e.indexOf('=')).equals(key)) {
        entries.add(e);
      }
    }
    entries.add(key + "=" + value);
    set(conf, entries.toArray(new String[0]));
    return this;
  }

  private void checkConfKey(String key, String value) {
    if (ConfigKeys.byName(key) == null) {
      Settings.of(Map.of(key, value)); // throws with a did-you-mean message for spark.skippipe.*
      throw new ConfigException(key, value, "is not a spark.skippipe.* key",
          "name a key of conf/skippipe-defaults.properties");
    }
    if (INPUT_KEYS.contains(ConfigKeys.byName(key))) {
      throw new ConfigException(key, value, "is set by fit: the training text is the DataFrame's"
          + " textCol", "pass the text as the DataFrame (read it with spark.read() first)");
    }
    for (Map.Entry<Param<?>, Key> e : mirrored.entrySet()) {
      if (e.getValue().name().equals(key)) {
        throw new ConfigException(key, value, "has its own Param '" + e.getKey().name() + "'",
            "call set" + Character.toUpperCase(e.getKey().name().charAt(0))
                + e.getKey().name().substring(1) + "(...) instead");
      }
    }
  }

  /** The {@code spark.skippipe.*} settings fit runs the job with, input keys excluded. */
  public Map<String, String> settings() {
    Map<String, String> raw = new LinkedHashMap<>();
    for (Map.Entry<Param<?>, Key> e : mirrored.entrySet()) {
      raw.put(e.getValue().name(), String.valueOf($(e.getKey())));
    }
    for (String entry : (String[]) $(conf)) {
      int eq = entry.indexOf('=');
      if (eq < 0) {
        throw new ConfigException("conf", entry, "must be key=value",
            "use setConf(key, value)");
      }
      checkConfKey(entry.substring(0, eq), entry.substring(eq + 1));
      raw.put(entry.substring(0, eq), entry.substring(eq + 1));
    }
    raw.put(ConfigKeys.RUN_DIR.name(), HadoopConfs.toUri(raw.get(ConfigKeys.RUN_DIR.name()))
        .toString().replaceAll("/+$", ""));
    return raw;
  }

  @Override
  public StructType transformSchema(StructType schema) {
    MlSchemas.requireColumn(schema, $(textCol), DataTypes.StringType, "textCol",
        "a string column of training text");
    if (Arrays.asList(schema.fieldNames()).contains($(tokensCol))) {
      MlSchemas.requireColumn(schema, $(tokensCol), new ArrayType(DataTypes.IntegerType, false),
          "tokensCol", "an array<int> column of token ids (SkipPipeTokenizer's output)");
    }
    MlSchemas.requireAbsent(schema, $(lossCol), "lossCol");
    MlSchemas.requireAbsent(schema, $(perplexityCol), "perplexityCol");
    return schema.add($(lossCol), DataTypes.DoubleType, true)
        .add($(perplexityCol), DataTypes.DoubleType, true);
  }

  /**
   * Writes the text column to {@code RUN_DIR/ml-input/text.parquet}, runs the training job on the
   * DataFrame's session and returns a model pointing at the newest committed checkpoint.
   */
  @Override
  public SkipPipeLanguageModelModel fit(Dataset<?> dataset) {
    transformSchema(dataset.schema());
    Map<String, String> raw = settings();
    String run = raw.get(ConfigKeys.RUN_DIR.name());
    String input = run + "/ml-input/text.parquet";
    raw.put(ConfigKeys.DATA_INPUT.name(), input);
    raw.put(ConfigKeys.DATA_FORMAT.name(), "parquet");
    raw.put(ConfigKeys.DATA_JSON_FIELD.name(), "text");
    JobConfig cfg = JobConfig.from(Settings.of(raw));
    dataset.select(functions.col($(textCol)).as("text"))
        .where(functions.col("text").isNotNull())
        .write().mode(SaveMode.Overwrite).parquet(input);
    SkipPipeJob.Summary summary;
    try {
      summary = SkipPipeJob.run(dataset.sparkSession(), cfg, Map.of(), progressStream());
    } catch (IOException e) {
      throw new UncheckedIOException("SkipPipe training in " + run + " failed", e);
    }
    if (summary.checkpoint().equals("none")) {
      throw new IllegalStateException("the training job in " + run + " committed no checkpoint");
    }
    SkipPipeLanguageModelModel m = new SkipPipeLanguageModelModel(uid,
        HadoopConfs.toUri(summary.checkpoint()).toString(), planModel(run));
    copyValues(m, ParamMap.empty());
    return m.setParent(this);
  }

  private static PrintStream progressStream() {
    return System.out;
  }

  /** The model spec of the run's plan.json (what the checkpoint's stages were built from). */
  private static ModelSpec planModel(String run) {
    Path p = new Path(HadoopConfs.toUri(run + "/plan.json"));
    try (InputStream in = p.getFileSystem(HadoopConfs.current()).open(p)) {
      return PlanCodec.read(in).model();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the run's plan " + p, e);
    }
  }

  @Override
  public SkipPipeLanguageModel copy(ParamMap extra) {
    return defaultCopy(extra);
  }
}
