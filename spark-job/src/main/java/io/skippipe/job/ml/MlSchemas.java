package io.skippipe.job.ml;

import java.util.Arrays;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;

/** Schema checks and row building shared by the SkipPipe Spark ML stages. */
final class MlSchemas {
  private MlSchemas() {}

  /** Throws unless {@code schema} has column {@code name} of type {@code type}. */
  static void requireColumn(StructType schema, String name, DataType type, String param,
      String what) {
    if (!Arrays.asList(schema.fieldNames()).contains(name)) {
      throw new IllegalArgumentException("column '" + name + "' (Param " + param + ") is not in"
          + " the DataFrame, whose columns are " + Arrays.toString(schema.fieldNames())
          + "; set " + param + " to " + what);
    }
    DataType got = schema.apply(name).dataType();
    if (!got.sameType(type)) {
      throw new IllegalArgumentException("column '" + name + "' (Param " + param + ") has type "
          + got.simpleString() + " but must be " + type.simpleString() + "; set " + param + " to "
          + what);
    }
  }

  /** Throws when {@code schema} already has column {@code name} (an output would shadow it). */
  static void requireAbsent(StructType schema, String name, String param) {
    if (Arrays.asList(schema.fieldNames()).contains(name)) {
      throw new IllegalArgumentException("output column '" + name + "' (Param " + param + ")"
          + " already exists in the DataFrame; set " + param + " to a new column name or drop"
          + " the column first");
    }
  }

  /** {@code row}'s values followed by {@code extra}. */
  static Row append(Row row, Object... extra) {
    Object[] v = new Object[row.length() + extra.length];
    for (int i = 0; i < row.length(); i++) {
      v[i] = row.get(i);
    }
    System.arraycopy(extra, 0, v, row.length(), extra.length);
    return RowFactory.create(v);
  }
}
