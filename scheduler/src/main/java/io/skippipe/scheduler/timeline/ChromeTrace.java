package io.skippipe.scheduler.timeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.timeline.HtmlTimeline.Row;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Writes spans in the Chrome trace-event JSON format that Perfetto (ui.perfetto.dev) and
 * chrome://tracing open. Each timeline is one process; each node row has its own threads, sorted
 * stage by stage: its compute lane(s), then one thread per transfer lane ({@link Lanes}), so
 * complete events ({@code "ph":"X"}) never overlap on a thread — overlapping sends go on separate
 * tracks instead of drawing over each other.
 */
public final class ChromeTrace {
  private ChromeTrace() {}

  /** One timeline: a process of the trace. */
  public record Process(String name, List<Row> rows, List<Span> spans) {}

  /** Lanes per kind within a row: thread ids are {@code row * LANES + lane}. */
  static final int LANES = 64;

  /** Writes the timelines as one JSON object with {@code traceEvents}. Does not close the stream. */
  public static void write(List<Process> processes, OutputStream out) {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    root.put("displayTimeUnit", "ms");
    ArrayNode events = root.putArray("traceEvents");
    for (int p = 0; p < processes.size(); p++) {
      Process proc = processes.get(p);
      int pid = p + 1;
      meta(events, "process_name", pid, 0).putObject("args").put("name", proc.name());
      meta(events, "process_sort_index", pid, 0).putObject("args").put("sort_index", p);
      Lanes lanes = Lanes.of(proc.spans());
      int[] rowOf = new int[proc.rows().stream().mapToInt(Row::node).max().orElse(-1) + 1];
      java.util.Arrays.fill(rowOf, -1);
      for (int r = 0; r < proc.rows().size(); r++) {
        Row row = proc.rows().get(r);
        rowOf[row.node()] = r;
        String base = row.label() + (row.stage() >= 0 ? " (stage " + row.stage() + ")" : "");
        int compute = lanes.computeLanes(row.node());
        for (int l = 0; l < compute + lanes.transferLanes(row.node()); l++) {
          int tid = r * LANES + l;
          String name = l == 0 ? base : l < compute ? base + " compute " + (l + 1)
              : base + " transfers " + (l - compute + 1);
          meta(events, "thread_name", pid, tid).putObject("args").put("name", name);
          meta(events, "thread_sort_index", pid, tid).putObject("args").put("sort_index", tid);
        }
      }
      for (Span s : proc.spans()) {
        int r = s.node() < rowOf.length ? rowOf[s.node()] : -1;
        if (r < 0) {
          throw new IllegalArgumentException("span of node " + s.node() + " has no row in "
              + proc.name());
        }
        int lane = Lanes.isComputeLane(s) ? lanes.lane(s)
            : lanes.computeLanes(s.node()) + lanes.lane(s);
        ObjectNode e = events.addObject();
        e.put("ph", "X");
        e.put("pid", pid);
        e.put("tid", r * LANES + lane);
        e.put("name", s.kind().name() + (s.microbatch() >= 0 ? " mb" + s.microbatch() : ""));
        e.put("cat", s.kind().name());
        e.put("ts", s.startMicros());
        e.put("dur", s.durationMicros());
        e.putObject("args").put("node", s.node()).put("stage", s.stage())
            .put("microbatch", s.microbatch());
      }
    }
    try {
      out.write(json.writeValueAsBytes(root));
      out.write('\n');
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ObjectNode meta(ArrayNode events, String name, int pid, int tid) {
    ObjectNode m = events.addObject();
    m.put("ph", "M");
    m.put("name", name);
    m.put("pid", pid);
    m.put("tid", tid);
    return m;
  }
}
