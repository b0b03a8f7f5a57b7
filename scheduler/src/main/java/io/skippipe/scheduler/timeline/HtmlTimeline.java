package io.skippipe.scheduler.timeline;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * A self-contained HTML Gantt chart (inline CSS and SVG, no scripts from anywhere): one row per
 * node, FWD / BWD / LOSS coloured, a time axis in seconds, microbatch id and times on hover (SVG
 * title elements). Several timelines (predicted, measured) are drawn one above the other on the
 * same time scale so they can be compared.
 */
public final class HtmlTimeline {
  private HtmlTimeline() {}

  /** One named timeline to draw. */
  public record Section(String title, List<Span> spans) {}

  private static final int ROW = 18;
  private static final int LEFT = 70;
  private static final int WIDTH = 1400;

  /** Writes the page. Does not close the stream. */
  public static void write(String title, List<Section> sections, OutputStream out) {
    long end = 1;
    for (Section s : sections) {
      for (Span sp : s.spans()) {
        end = Math.max(end, sp.endMicros());
      }
    }
    StringBuilder b = new StringBuilder();
    b.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
        .append(esc(title)).append("</title>\n<style>\n")
        .append("body{font-family:sans-serif;margin:16px;color:#222}\n")
        .append("h1{font-size:18px}h2{font-size:15px;margin-top:24px}\n")
        .append(".FWD{fill:#4e79a7}.BWD{fill:#e15759}.LOSS{fill:#f28e2b}.SEND{fill:#bab0ac}")
        .append(".ALLREDUCE{fill:#59a14f}.CKPT{fill:#b07aa1}.WAIT{fill:#edc948}")
        .append(".RECV{fill:#9c755f}\n")
        .append("rect:hover{stroke:#000;stroke-width:1}\n.legend span{display:inline-block;")
        .append("width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\n")
        .append("text{font-size:11px}\n</style></head><body>\n<h1>").append(esc(title))
        .append("</h1>\n<div class=\"legend\">")
        .append("<span style=\"background:#4e79a7\"></span>forward")
        .append("<span style=\"background:#e15759\"></span>backward")
        .append("<span style=\"background:#f28e2b\"></span>loss")
        .append("<span style=\"background:#bab0ac\"></span>send (thin bar under the row)")
        .append("<span style=\"background:#59a14f\"></span>all-reduce</div>\n");
    for (Section s : sections) {
      section(b, s, end);
    }
    b.append("</body></html>\n");
    try {
      Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
      w.write(b.toString());
      w.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void section(StringBuilder b, Section s, long end) {
    TreeSet<Integer> nodes = new TreeSet<>();
    long last = 0;
    for (Span sp : s.spans()) {
      nodes.add(sp.node());
      last = Math.max(last, sp.endMicros());
    }
    List<Integer> rows = new ArrayList<>(nodes);
    int height = rows.size() * ROW + 40;
    double scale = (WIDTH - LEFT - 10) / (double) end;
    b.append(String.format(Locale.ROOT, "<h2>%s — %.3f s, %d spans</h2>\n", esc(s.title()),
        last / 1e6, s.spans().size()));
    b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH)
        .append("\" height=\"").append(height).append("\">\n");
    for (int r = 0; r < rows.size(); r++) {
      int y = r * ROW + 4;
      b.append("<text x=\"4\" y=\"").append(y + 12).append("\">node ").append(rows.get(r))
          .append("</text>\n");
      b.append("<line x1=\"").append(LEFT).append("\" x2=\"").append(WIDTH - 10)
          .append("\" y1=\"").append(y + ROW - 1).append("\" y2=\"").append(y + ROW - 1)
          .append("\" stroke=\"#eee\"/>\n");
    }
    for (Span sp : s.spans()) {
      int r = rows.indexOf(sp.node());
      double x = LEFT + sp.startMicros() * scale;
      double w = Math.max(0.5, sp.durationMicros() * scale);
      boolean compute = sp.isCompute() || sp.kind() == Span.Kind.ALLREDUCE
          || sp.kind() == Span.Kind.CKPT;
      int y = r * ROW + 4 + (compute ? 1 : ROW - 5);
      int h = compute ? ROW - 6 : 3;
      b.append(String.format(Locale.ROOT,
          "<rect class=\"%s\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\"><title>%s%s"
              + " node %d stage %d: %.3f–%.3f s</title></rect>\n",
          sp.kind().name(), x, y, w, h, sp.kind().name(),
          sp.microbatch() >= 0 ? " microbatch " + sp.microbatch() : "", sp.node(), sp.stage(),
          sp.startMicros() / 1e6, sp.endMicros() / 1e6));
    }
    int axisY = rows.size() * ROW + 8;
    b.append("<line x1=\"").append(LEFT).append("\" x2=\"").append(WIDTH - 10).append("\" y1=\"")
        .append(axisY).append("\" y2=\"").append(axisY).append("\" stroke=\"#555\"/>\n");
    double step = niceStep(end / 1e6 / 10);
    for (double t = 0; t * 1e6 <= end; t += step) {
      double x = LEFT + t * 1e6 * scale;
      b.append(String.format(Locale.ROOT,
          "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>"
              + "<text x=\"%.2f\" y=\"%d\">%s s</text>\n",
          x, x, axisY, axisY + 4, x - 8, axisY + 16, trim(t)));
    }
    b.append("</svg>\n");
  }

  private static double niceStep(double raw) {
    double p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-6))));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * p >= raw) {
        return m * p;
      }
    }
    return 10 * p;
  }

  private static String trim(double t) {
    return t == Math.rint(t) ? String.valueOf((long) t) : String.format(Locale.ROOT, "%.3g", t);
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
