package io.skippipe.scheduler.timeline;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeSet;

/**
 * Writes spans in the Chrome trace-event JSON format that Perfetto (ui.perfetto.dev) and
 * chrome://tracing open: one complete event ({@code "ph":"X"}) per span, one "thread" per node.
 * Communication spans go on a second track of their node so they do not hide compute.
 */
public final class ChromeTrace {
  private ChromeTrace() {}

  /** Writes the trace as one JSON object with {@code traceEvents}. Does not close the stream. */
  public static void write(List<Span> spans, OutputStream out) {
    try {
      Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
      w.write("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
      boolean first = true;
      TreeSet<Integer> nodes = new TreeSet<>();
      for (Span s : spans) {
        nodes.add(s.node());
      }
      for (int node : nodes) {
        first = comma(w, first);
        w.write("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":0,\"tid\":" + tid(node, true)
            + ",\"args\":{\"name\":\"node " + node + "\"}}");
        w.write(",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":0,\"tid\":" + tid(node, false)
            + ",\"args\":{\"name\":\"node " + node + " comm\"}}");
      }
      for (Span s : spans) {
        first = comma(w, first);
        String name = s.kind().name() + (s.microbatch() >= 0 ? " mb" + s.microbatch() : "");
        w.write("{\"ph\":\"X\",\"pid\":0,\"tid\":" + tid(s.node(), s.isCompute())
            + ",\"name\":\"" + name + "\",\"cat\":\"" + s.kind().name() + "\",\"ts\":"
            + s.startMicros() + ",\"dur\":" + s.durationMicros() + ",\"args\":{\"stage\":"
            + s.stage() + ",\"microbatch\":" + s.microbatch() + "}}");
      }
      w.write("\n]}\n");
      w.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int tid(int node, boolean compute) {
    return node * 2 + (compute ? 0 : 1);
  }

  private static boolean comma(Writer w, boolean first) throws IOException {
    if (!first) {
      w.write(",\n");
    }
    return false;
  }
}
