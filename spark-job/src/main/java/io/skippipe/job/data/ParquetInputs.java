package io.skippipe.job.data;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

/** Parquet checks shared by the input check and the reader. */
final class ParquetInputs {
  private ParquetInputs() {}

  /**
   * The schema of a Parquet file; a file that is not Parquet is a {@link ConfigException} on
   * {@code data.format} ({@code configured} is that key's value).
   */
  static MessageType schema(String uri, Configuration conf, String configured)
      throws IOException {
    try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(new Path(uri),
        conf))) {
      return r.getFooter().getFileMetaData().getSchema();
    } catch (RuntimeException e) {
      throw new ConfigException(ConfigKeys.DATA_FORMAT.name(), configured, uri
          + " is not a Parquet file (" + e.getMessage() + ")", "set spark.skippipe.data.format"
          + " to the input's format (text or jsonl), or auto to tell it by the file extension");
    }
  }

  /** The top-level string column {@code field}; a missing or non-string column is an error. */
  static Type textColumn(MessageType schema, String field, String uri) {
    if (!schema.containsField(field)) {
      throw new ConfigException(ConfigKeys.DATA_JSON_FIELD.name(), field, "is not a column of "
          + uri + " (columns: " + String.join(", ", schema.getFields().stream().map(Type::getName)
          .toList()) + ")", "name the column that holds the text");
    }
    Type t = schema.getType(field);
    if (!t.isPrimitive() || t.asPrimitiveType().getPrimitiveTypeName()
        != PrimitiveType.PrimitiveTypeName.BINARY || t.isRepetition(Type.Repetition.REPEATED)) {
      throw new ConfigException(ConfigKeys.DATA_JSON_FIELD.name(), field, "column " + field
          + " of " + uri + " is " + t + ", not a string", "name a string column");
    }
    return t;
  }
}
