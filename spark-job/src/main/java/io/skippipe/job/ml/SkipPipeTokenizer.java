package io.skippipe.job.ml;

import io.skippipe.model.data.TextTokenizer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.ml.Transformer;
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
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Spark ML stage: a text column → an {@code array<int>} column of token ids, with the bundled BPE
 * tokenizer or a given Hugging Face {@code tokenizer.json} (Param {@code tokenizer}, a Hadoop URI
 * or path). Text is encoded without special tokens, exactly as the training job's data preparation
 * does ({@link TextTokenizer#encode}); a null text gives a null array. The tokenizer is opened once
 * per partition and closed after it.
 *
 * <p>Saved and loaded by MLlib's default params writer/reader, so a {@code Pipeline} holding it can
 * be saved.
 */
public final class SkipPipeTokenizer extends Transformer implements DefaultParamsWritable {
  private final String uid;
  private final Param<String> inputCol;
  private final Param<String> outputCol;
  private final Param<String> tokenizer;

  public SkipPipeTokenizer() {
    this(Identifiable$.MODULE$.randomUID("skippipeTokenizer"));
  }

  /** The constructor MLlib's reader calls. */
  public SkipPipeTokenizer(String uid) {
    this.uid = uid;
    inputCol = new Param<>(this, "inputCol", "Column of text (string) to tokenize.");
    outputCol = new Param<>(this, "outputCol", "Output column of token ids (array<int>).");
    tokenizer = new Param<>(this, "tokenizer", "HF tokenizer.json (Hadoop URI or path); empty ="
        + " the bundled tokenizer. Use the one the model was trained with"
        + " (spark.skippipe.data.tokenizer).");
    setDefault(inputCol, "text");
    setDefault(outputCol, "tokens");
    setDefault(tokenizer, "");
  }

  public static MLReader<SkipPipeTokenizer> read() {
    return new DefaultParamsReader<>();
  }

  public static SkipPipeTokenizer load(String path) {
    return read().load(path);
  }

  @Override
  public String uid() {
    return uid;
  }

  public Param<String> inputCol() {
    return inputCol;
  }

  public Param<String> outputCol() {
    return outputCol;
  }

  public Param<String> tokenizer() {
    return tokenizer;
  }

  public String getInputCol() {
    return $(inputCol);
  }

  public String getOutputCol() {
    return $(outputCol);
  }

  public String getTokenizer() {
    return $(tokenizer);
  }

  public SkipPipeTokenizer setInputCol(String v) {
    set(inputCol, v);
    return this;
  }

  public SkipPipeTokenizer setOutputCol(String v) {
    set(outputCol, v);
    return this;
  }

  public SkipPipeTokenizer setTokenizer(String v) {
    set(tokenizer, v);
    return this;
  }

  @Override
  public StructType transformSchema(StructType schema) {
    MlSchemas.requireColumn(schema, getInputCol(), DataTypes.StringType, "inputCol",
        "a string column of text");
    MlSchemas.requireAbsent(schema, getOutputCol(), "outputCol");
    return schema.add(new StructField(getOutputCol(),
        new ArrayType(DataTypes.IntegerType, false), true, org.apache.spark.sql.types.Metadata
            .empty()));
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    int textIndex = dataset.schema().fieldIndex(getInputCol());
    String tokenizerUri = getTokenizer();
    JavaRDD<Row> rows = dataset.toDF().javaRDD().mapPartitions((Iterator<Row> it) -> {
      List<Row> done = new ArrayList<>();
      if (!it.hasNext()) {
        return done.iterator();
      }
      try (TextTokenizer tok = Tokenizers.open(tokenizerUri)) {
        while (it.hasNext()) {
          Row r = it.next();
          String text = r.isNullAt(textIndex) ? null : r.getString(textIndex);
          done.add(MlSchemas.append(r, (Object) (text == null ? null : boxed(tok.encode(text)))));
        }
      }
      return done.iterator();
    });
    return dataset.sparkSession().createDataFrame(rows, out);
  }

  private static Integer[] boxed(int[] ids) {
    Integer[] b = new Integer[ids.length];
    for (int i = 0; i < ids.length; i++) {
      b[i] = ids[i];
    }
    return b;
  }

  @Override
  public SkipPipeTokenizer copy(ParamMap extra) {
    return defaultCopy(extra);
  }
}
