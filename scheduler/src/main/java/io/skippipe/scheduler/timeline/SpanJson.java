package io.skippipe.scheduler.timeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Spans as JSON lines: one object per line with exactly the fields of {@link Span}
 * ({@code node, stage, microbatch, kind, startMicros, endMicros}), kind written as its name. This
 * is the format of {@code RUN_DIR/trace/measured-spans.jsonl} written by the Spark runtime.
 */
public final class SpanJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private SpanJson() {}

  /** One span as a single-line JSON object (no trailing newline). */
  public static String toLine(Span s) {
    return "{\"node\":" + s.node() + ",\"stage\":" + s.stage() + ",\"microbatch\":"
        + s.microbatch() + ",\"kind\":\"" + s.kind().name() + "\",\"startMicros\":"
        + s.startMicros() + ",\"endMicros\":" + s.endMicros() + "}";
  }

  /** Parses one line written by {@link #toLine}; a malformed line is named in the exception. */
  public static Span fromLine(String line) {
    try {
      JsonNode n = MAPPER.readTree(line);
      return new Span(
          n.get("node").asInt(),
          n.get("stage").asInt(),
          n.get("microbatch").asInt(),
          Span.Kind.valueOf(n.get("kind").asText()),
          n.get("startMicros").asLong(),
          n.get("endMicros").asLong());
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(
          "span line '" + line + "' is not a span object {node, stage, microbatch, kind,"
              + " startMicros, endMicros}: " + e.getMessage()
              + "; fix: write spans with SpanJson.write", e);
    }
  }

  /** Writes the spans as JSON lines (UTF-8). Does not close the stream. */
  public static void write(List<Span> spans, OutputStream out) {
    try {
      Writer w = new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8);
      for (Span s : spans) {
        w.write(toLine(s));
        w.write('\n');
      }
      w.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads JSON lines; blank lines are skipped. Does not close the stream. */
  public static List<Span> read(InputStream in) {
    List<Span> spans = new ArrayList<>();
    try {
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isBlank()) {
          spans.add(fromLine(line));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return spans;
  }

  /** Reads a JSON-lines file of spans. */
  public static List<Span> read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
