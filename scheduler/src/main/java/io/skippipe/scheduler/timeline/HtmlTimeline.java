package io.skippipe.scheduler.timeline;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A self-contained HTML Gantt chart (inline CSS and SVG, no scripts): panels drawn one above the
 * other on one time axis and with the same rows, one row per node grouped by stage and labelled
 * with the node's location. Compute spans fill a row's compute lane(s); transfers and waits are
 * thin bars on the lanes below ({@link Lanes}: nothing overlaps on one lane). Microbatch ids are
 * written on bars wide enough to hold them ({@code F3}, {@code B3}, {@code L3}) and every bar has
 * a hover title. Iterations are shaded bands, chunk starts dashed lines, time outside iterations
 * hatched; collisions (a microbatch ready while its node computes another one) are red marks on
 * the waiting node's row. The legend lists every colour used.
 *
 * <p>The horizontal scale gives the median compute span of the last panel (the measured one of a
 * run) at least {@value #MIN_LABEL_PX} pixels, so ids fit, within {@value #MIN_WIDTH}–{@value
 * #MAX_WIDTH} pixels of chart, unless a width is given; the page scrolls sideways when it is wide.
 */
public final class HtmlTimeline {
  private HtmlTimeline() {}

  /** One row: a node, its stage, and the label drawn left of it (e.g. "node 3 · Belgium"). */
  public record Row(int node, int stage, String label) {}

  /** What a shaded region of a panel stands for. */
  public enum BandKind {
    /** One iteration (alternately shaded). */
    ITERATION,
    /** Time of the run outside any iteration (chunk start-up, checkpoint commits, ...). */
    GAP
  }

  /** A labelled time range drawn behind a panel's rows. */
  public record Band(BandKind kind, String label, long startMicros, long endMicros) {}

  /** A vertical dashed line with a label, e.g. the start of a chunk. */
  public record Marker(String label, long atMicros) {}

  /**
   * A collision: microbatch {@code microbatch} was ready for {@code node} at {@code startMicros}
   * but the node computed another microbatch until {@code endMicros}.
   */
  public record Collision(int node, int microbatch, long startMicros, long endMicros,
      String detail) {}

  /** One timeline drawn on the page's rows. */
  public record Panel(String title, String summary, List<Span> spans, List<Band> bands,
      List<Marker> markers, List<Collision> collisions) {}

  /** The whole page: rows shared by every panel. */
  public record Page(String title, List<String> notes, List<Row> rows, List<Panel> panels) {}

  static final int MIN_LABEL_PX = 24;
  static final int MIN_WIDTH = 1000;
  static final int MAX_WIDTH = 12000;
  static final int LEFT = 190;
  static final int COMPUTE_LANE = 16;
  static final int TRANSFER_LANE = 5;
  static final int ROW_GAP = 4;
  static final int GROUP_HEADER = 15;
  static final int TOP = 40;

  private static final String[][] LEGEND = {
      {"FWD", "#4e79a7", "forward"}, {"BWD", "#e15759", "backward"}, {"LOSS", "#f28e2b", "loss"},
      {"ALLREDUCE", "#59a14f", "all-reduce (stage replicas)"}, {"CKPT", "#b07aa1", "checkpoint"},
      {"SEND", "#9c9c9c", "transfer (thin, sender's row)"},
      {"RECV", "#9c755f", "receive (thin)"},
      {"WAIT", "#edc948", "waiting for input or the iteration's scalar exchange (thin)"}};

  /** Writes the page with an automatic width. Does not close the stream. */
  public static void write(Page page, OutputStream out) {
    write(page, out, 0);
  }

  /**
   * Writes the page; {@code chartWidth} pixels for the time axis, or 0 for the automatic width.
   * Does not close the stream.
   */
  public static void write(Page page, OutputStream out, int chartWidth) {
    long end = 1;
    List<Long> computeDurations = new ArrayList<>();
    for (Panel p : page.panels()) {
      computeDurations.clear(); // the last panel sets the scale
      for (Span s : p.spans()) {
        end = Math.max(end, s.endMicros());
        if (s.isCompute()) {
          computeDurations.add(s.durationMicros());
        }
      }
      for (Band b : p.bands()) {
        end = Math.max(end, b.endMicros());
      }
    }
    double pxPerMicro = chartWidth > 0 ? chartWidth / (double) end
        : scale(end, computeDurations);
    int width = (int) Math.ceil(LEFT + end * pxPerMicro + 40);
    StringBuilder b = new StringBuilder();
    b.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
        .append(esc(page.title())).append("</title>\n<style>\n")
        .append("body{font-family:sans-serif;margin:16px;color:#222}\n")
        .append("h1{font-size:18px;margin:0 0 6px 0}h2{font-size:15px;margin:22px 0 2px 0}\n")
        .append(".note{font-size:13px;margin:2px 0}.summary{font-size:13px;margin:0 0 6px 0;")
        .append("color:#444}\n");
    for (String[] l : LEGEND) {
      b.append('.').append(l[0]).append("{fill:").append(l[1]).append("}\n");
    }
    b.append(".collision{fill:#d62728}\n.it0{fill:#f3f6fa}.it1{fill:#e6edf5}")
        .append(".gap{fill:url(#hatch)}\n")
        .append("rect.span:hover{stroke:#000;stroke-width:1}\n")
        .append(".legend{font-size:13px;margin:8px 0}.legend span.sw{display:inline-block;")
        .append("width:14px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\n")
        .append("text{font-size:11px}text.id{font-size:10px;fill:#fff;pointer-events:none}\n")
        .append("text.group{font-weight:bold;font-size:11px}text.band{fill:#555}\n")
        .append("</style></head><body>\n<h1>").append(esc(page.title())).append("</h1>\n");
    for (String n : page.notes()) {
      b.append("<p class=\"note\">").append(esc(n)).append("</p>\n");
    }
    legend(b);
    for (Panel p : page.panels()) {
      panel(b, page.rows(), p, pxPerMicro, end, width);
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

  /** Pixels per microsecond: median compute span ≥ MIN_LABEL_PX, chart within the width limits. */
  static double scale(long endMicros, List<Long> computeDurations) {
    long[] d = computeDurations.stream().mapToLong(Long::longValue).filter(x -> x > 0).sorted()
        .toArray();
    double wanted = d.length == 0 ? 0 : MIN_LABEL_PX / (double) d[d.length / 2];
    double min = (MIN_WIDTH - LEFT) / (double) endMicros;
    double max = (MAX_WIDTH - LEFT) / (double) endMicros;
    return Math.max(min, Math.min(max, wanted));
  }

  private static void legend(StringBuilder b) {
    b.append("<div class=\"legend\">");
    for (String[] l : LEGEND) {
      b.append("<span class=\"sw\" style=\"background:").append(l[1]).append("\"></span>")
          .append(esc(l[2]));
    }
    b.append("<span class=\"sw\" style=\"background:#d62728\"></span>collision (microbatch ready,")
        .append(" node busy with another)")
        .append("<span class=\"sw\" style=\"background:#e6edf5\"></span>iteration")
        .append("<span class=\"sw\" style=\"background:repeating-linear-gradient(45deg,#ddd 0")
        .append(",#ddd 2px,#fff 2px,#fff 5px)\"></span>outside iterations")
        .append("<span class=\"sw\" style=\"border-left:2px dashed #333;width:2px\"></span>")
        .append("chunk start. Bars with room show F/B/L + microbatch id; hover any bar for")
        .append(" details.</div>\n");
  }

  private static void panel(StringBuilder b, List<Row> rows, Panel p, double px, long end,
      int width) {
    Lanes lanes = Lanes.of(p.spans());
    // row geometry: stage group headers, then per row its compute and transfer lanes
    int[] rowTop = new int[rows.size()];
    int[] rowHeight = new int[rows.size()];
    List<int[]> groupHeaders = new ArrayList<>(); // {y, stage}
    int y = TOP;
    int stage = Integer.MIN_VALUE;
    for (int r = 0; r < rows.size(); r++) {
      Row row = rows.get(r);
      if (row.stage() != stage) {
        stage = row.stage();
        groupHeaders.add(new int[] {y, stage});
        y += GROUP_HEADER;
      }
      rowTop[r] = y;
      rowHeight[r] = lanes.computeLanes(row.node()) * COMPUTE_LANE
          + lanes.transferLanes(row.node()) * TRANSFER_LANE + 2;
      y += rowHeight[r] + ROW_GAP;
    }
    int axisY = y + 4;
    int height = axisY + 24;
    b.append("<h2>").append(esc(p.title())).append("</h2>\n<p class=\"summary\">")
        .append(esc(p.summary())).append("</p>\n");
    b.append("<div style=\"overflow-x:auto\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(width).append("\" height=\"").append(height).append("\">\n")
        .append("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"")
        .append(" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/>")
        .append("<rect width=\"2\" height=\"6\" fill=\"#ddd\"/></pattern></defs>\n");
    // bands behind everything
    int i = 0;
    for (Band band : p.bands()) {
      double x = LEFT + band.startMicros() * px;
      double w = Math.max(0.5, (band.endMicros() - band.startMicros()) * px);
      String cls = band.kind() == BandKind.GAP ? "gap" : "it" + (i++ % 2);
      b.append(String.format(Locale.ROOT, "<rect class=\"%s\" x=\"%.2f\" y=\"%d\" width=\"%.2f\""
              + " height=\"%d\"><title>%s: %.3f–%.3f s (%.3f s)</title></rect>\n", cls, x,
          TOP - 14, w, axisY - TOP + 14, esc(band.label()), band.startMicros() / 1e6,
          band.endMicros() / 1e6, (band.endMicros() - band.startMicros()) / 1e6));
      if (w > 7 * band.label().length()) {
        b.append(String.format(Locale.ROOT, "<text class=\"band\" x=\"%.2f\" y=\"%d\">%s</text>\n",
            x + 3, TOP - 4, esc(band.label())));
      }
    }
    // row labels and stage headers
    for (int[] g : groupHeaders) {
      b.append("<text class=\"group\" x=\"4\" y=\"").append(g[0] + 11).append("\">stage ")
          .append(g[1]).append(g[1] == 0 ? " (data nodes: embedding, loss)" : "")
          .append("</text>\n<line x1=\"4\" x2=\"").append(width - 10).append("\" y1=\"")
          .append(g[0] + 13).append("\" y2=\"").append(g[0] + 13)
          .append("\" stroke=\"#bbb\"/>\n");
    }
    for (int r = 0; r < rows.size(); r++) {
      b.append("<text x=\"14\" y=\"").append(rowTop[r] + 12).append("\">")
          .append(esc(rows.get(r).label())).append("</text>\n");
    }
    // spans
    int[] rowOf = rowIndex(rows);
    for (Span s : p.spans()) {
      int r = s.node() < rowOf.length ? rowOf[s.node()] : -1;
      if (r < 0) {
        continue;
      }
      int node = s.node();
      int lane = lanes.lane(s);
      boolean compute = Lanes.isComputeLane(s);
      int top = rowTop[r] + (compute ? lane * COMPUTE_LANE
          : lanes.computeLanes(node) * COMPUTE_LANE + lane * TRANSFER_LANE + 1);
      int h = compute ? COMPUTE_LANE - 2 : TRANSFER_LANE - 1;
      double x = LEFT + s.startMicros() * px;
      double w = Math.max(0.5, s.durationMicros() * px);
      b.append(String.format(Locale.ROOT, "<rect class=\"span %s\" x=\"%.2f\" y=\"%d\""
              + " width=\"%.2f\" height=\"%d\"><title>%s%s, node %d (%s), stage %d:"
              + " %.3f–%.3f s (%.1f ms)</title></rect>\n", s.kind().name(), x, top, w, h,
          s.kind().name(), s.microbatch() >= 0 ? " microbatch " + s.microbatch() : "", node,
          esc(rows.get(r).label()), s.stage(), s.startMicros() / 1e6, s.endMicros() / 1e6,
          s.durationMicros() / 1e3));
      String id = idLabel(s);
      if (compute && id != null && w >= 6 * id.length() + 4) {
        b.append(String.format(Locale.ROOT, "<text class=\"id\" x=\"%.2f\" y=\"%d\">%s</text>\n",
            x + 2, top + 11, id));
      }
    }
    // collisions: a red bar along the top of the waiting node's row
    for (Collision c : p.collisions()) {
      int r = c.node() < rowOf.length ? rowOf[c.node()] : -1;
      if (r < 0) {
        continue;
      }
      double x = LEFT + c.startMicros() * px;
      double w = Math.max(1, (c.endMicros() - c.startMicros()) * px);
      b.append(String.format(Locale.ROOT, "<rect class=\"collision\" x=\"%.2f\" y=\"%d\""
              + " width=\"%.2f\" height=\"3\"><title>collision: %s</title></rect>\n", x,
          rowTop[r] - 3, w, esc(c.detail())));
    }
    // chunk markers
    for (Marker m : p.markers()) {
      double x = LEFT + m.atMicros() * px;
      b.append(String.format(Locale.ROOT, "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\""
              + " stroke=\"#333\" stroke-dasharray=\"4,3\"/><text x=\"%.2f\" y=\"%d\">%s</text>\n",
          x, x, TOP - 30, axisY, x + 3, TOP - 20, esc(m.label())));
    }
    // time axis
    b.append("<line x1=\"").append(LEFT).append("\" x2=\"").append(width - 10).append("\" y1=\"")
        .append(axisY).append("\" y2=\"").append(axisY).append("\" stroke=\"#555\"/>\n");
    double step = niceStep(end / 1e6 / Math.max(4, (width - LEFT) / 120.0));
    for (double t = 0; t * 1e6 <= end; t += step) {
      double x = LEFT + t * 1e6 * px;
      b.append(String.format(Locale.ROOT,
          "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>"
              + "<text x=\"%.2f\" y=\"%d\">%s s</text>\n",
          x, x, axisY, axisY + 4, x - 8, axisY + 16, trim(t)));
    }
    b.append("</svg></div>\n");
  }

  /** Row index by node id (-1: not drawn). */
  private static int[] rowIndex(List<Row> rows) {
    int max = rows.stream().mapToInt(Row::node).max().orElse(-1);
    int[] out = new int[max + 1];
    Arrays.fill(out, -1);
    for (int r = 0; r < rows.size(); r++) {
      out[rows.get(r).node()] = r;
    }
    return out;
  }

  private static String idLabel(Span s) {
    if (s.microbatch() < 0) {
      return s.kind() == Span.Kind.CKPT ? "ckpt" : s.kind() == Span.Kind.ALLREDUCE ? "AR" : null;
    }
    return switch (s.kind()) {
      case FWD -> "F" + s.microbatch();
      case BWD -> "B" + s.microbatch();
      case LOSS -> "L" + s.microbatch();
      default -> null;
    };
  }

  static double niceStep(double raw) {
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

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("\"", "&quot;");
  }
}
