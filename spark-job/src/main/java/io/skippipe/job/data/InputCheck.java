package io.skippipe.job.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;

/**
 * Cheap checks of the input before anything is written: the first bytes of the first files are
 * text (not binary), JSON lines start with a JSON object, Parquet files are Parquet and hold the
 * text column. Each failure is a {@link ConfigException} naming the key, the file and the fix.
 */
public final class InputCheck {
  private InputCheck() {}

  /** Input that has more control characters and U+FFFD than this fraction is not text. */
  public static final double NON_TEXT_LIMIT = 0.01;
  /** Bytes sniffed at the start of each checked file. */
  static final int SNIFF_BYTES = 1 << 16;
  /** Files checked (the first ones in URI order); the full read counts every file. */
  static final int FILES_CHECKED = 8;

  /**
   * Checks the input files in format {@code format} ({@code configured} = the value of
   * data.format, to name the right key).
   */
  public static void check(List<InputFiles.SourceFile> files, String format, String configured,
      String input, String field, boolean allowNonText, Configuration conf) throws IOException {
    if (!format.equals("text") && field.isEmpty()) {
      throw new ConfigException(ConfigKeys.DATA_JSON_FIELD.name(), field, "must not be empty for "
          + format + " input", "name the field that holds the text, e.g. text");
    }
    for (InputFiles.SourceFile f : files.subList(0, Math.min(FILES_CHECKED, files.size()))) {
      if (format.equals("parquet")) {
        ParquetInputs.textColumn(ParquetInputs.schema(f.uri(), conf, configured), field, f.uri());
        continue;
      }
      byte[] head = head(f, conf);
      String key = configured.equals("auto") ? ConfigKeys.DATA_INPUT.name()
          : ConfigKeys.DATA_FORMAT.name();
      String value = configured.equals("auto") ? input : configured;
      if (head.length >= 4 && new String(head, 0, 4, StandardCharsets.ISO_8859_1).equals("PAR1")) {
        throw new ConfigException(key, value, f.uri() + " is a Parquet file, read here as "
            + format, "set spark.skippipe.data.format=parquet (or auto for a .parquet name)");
      }
      double nonText = nonTextFraction(head);
      if (!allowNonText && nonText > NON_TEXT_LIMIT) {
        throw new ConfigException(ConfigKeys.DATA_INPUT.name(), input, String.format(
            "does not look like UTF-8 text: %.1f%% of the first %d bytes of %s are control"
                + " characters or invalid UTF-8 (the limit is %.0f%%)", 100 * nonText,
            head.length, f.uri(), 100 * NON_TEXT_LIMIT), "give UTF-8 text (JSON lines, Parquet"
                + " or plain text), or set " + ConfigKeys.DATA_ALLOW_NON_TEXT.name()
                + "=true to train on it anyway");
      }
      if (format.equals("jsonl")) {
        checkFirstJsonLine(head, f.uri(), key, value);
      }
    }
  }

  /**
   * Fraction of control characters (other than tab, line and page breaks), U+FFFD and malformed
   * UTF-8 bytes in {@code bytes} (an incomplete last character is ignored).
   */
  static double nonTextFraction(byte[] bytes) {
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length + 1);
    long bad = 0;
    while (true) {
      CoderResult r = d.decode(in, out, false);
      if (r.isError()) {
        bad += r.length();
        in.position(in.position() + r.length());
      } else {
        break;
      }
    }
    out.flip();
    long chars = out.remaining() + bad;
    while (out.hasRemaining()) {
      char c = out.get();
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x0B)
          || c == 0x7F || c == '\uFFFD') {
        bad++;
      }
    }
    return chars == 0 ? 0 : (double) bad / chars;
  }

  private static void checkFirstJsonLine(byte[] head, String uri, String key, String value) {
    int start = 0;
    int lineNo = 1;
    if (head.length >= 3 && (head[0] & 0xff) == 0xEF && (head[1] & 0xff) == 0xBB
        && (head[2] & 0xff) == 0xBF) {
      start = 3;
    }
    while (start < head.length) {
      int end = start;
      while (end < head.length && head[end] != '\n') {
        end++;
      }
      if (end == head.length && head.length == SNIFF_BYTES) {
        return; // the first line is longer than the sniffed bytes: the full read checks it
      }
      byte[] line = Arrays.copyOfRange(head, start, end);
      if (new String(line, StandardCharsets.UTF_8).isBlank()) {
        start = end + 1;
        lineNo++;
        continue;
      }
      String problem = null;
      try (JsonParser p = new JsonFactory().createParser(line)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          problem = "is not a JSON object";
        }
      } catch (JsonProcessingException e) {
        problem = "is not JSON (" + e.getOriginalMessage() + ")";
      } catch (IOException e) {
        problem = "cannot be read (" + e.getMessage() + ")";
      }
      if (problem != null) {
        throw new ConfigException(key, value, "is not JSON lines: line " + lineNo + " of " + uri
            + " " + problem, "give one JSON object per line, or set "
            + ConfigKeys.DATA_FORMAT.name() + "=text for plain text");
      }
      return;
    }
  }

  /** The first {@link #SNIFF_BYTES} bytes of a file (decompressed if it is compressed). */
  private static byte[] head(InputFiles.SourceFile f, Configuration conf) throws IOException {
    Path p = new Path(f.uri());
    FileSystem fs = p.getFileSystem(conf);
    InputStream raw = fs.open(p);
    try (InputStream in = f.compressed() ? codec(p, conf).createInputStream(raw) : raw) {
      return in.readNBytes(SNIFF_BYTES);
    }
  }

  private static CompressionCodec codec(Path p, Configuration conf) {
    return new CompressionCodecFactory(conf).getCodec(p);
  }
}
