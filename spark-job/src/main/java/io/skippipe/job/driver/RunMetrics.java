package io.skippipe.job.driver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.metrics.TrainingMetrics;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.job.task.chunk.NodeIterationStats;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns node reports into per-iteration metrics: one JSON line per iteration (loss, tokens/s,
 * iteration time, per-node busy/idle/wait), the console progress line with ETA, the values the
 * metrics plugin exports, and the measured span lines for {@code trace/measured-spans.jsonl}.
 */
public final class RunMetrics {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One iteration, aggregated over nodes: {@code seconds} is the slowest node's whole iteration,
   * {@code pipelineSeconds} the slowest node's pipeline phase (what the simulator predicts; the
   * all-reduce, scalar exchange and optimizer step come after it), {@code lr} the learning rate of
   * the step.
   */
  public record IterationRow(int iteration, double loss, double gradNorm, double seconds,
      double tokensPerSecond, double pipelineSeconds, double lr) {}

  private final int totalIterations;
  private final int chunkIterations;
  private final long tokensPerIteration;
  private final PrintStream console;
  private final boolean progress;
  private final long startNanos = System.nanoTime();
  private final List<String> iterationLines = new ArrayList<>();
  private final List<String> spanLines = new ArrayList<>();
  private final List<IterationRow> rows = new ArrayList<>();
  private final MetricsLog log;

  /**
   * @param previousLines iteration lines of earlier attempts of the run that this one keeps
   * @param log where the lines go after every chunk, or null (tests that only read them back)
   */
  public RunMetrics(int totalIterations, int chunkIterations, long tokensPerIteration,
      PrintStream console, boolean progress, List<String> previousLines, MetricsLog log) {
    this.totalIterations = totalIterations;
    this.chunkIterations = chunkIterations;
    this.tokensPerIteration = tokensPerIteration;
    this.console = console;
    this.progress = progress;
    this.iterationLines.addAll(previousLines);
    this.log = log;
  }

  /** The iteration number of a line of {@code iterations.jsonl}. */
  static int iterationOf(String line) {
    try {
      return JSON.readTree(line).get("iteration").asInt();
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("not an iterations.jsonl line: " + line, e);
    }
  }

  /**
   * Records one completed chunk's node reports: console progress, the metrics plugin's values, and
   * (with a log) {@code iterations.jsonl} and the chunk's span file.
   */
  public void afterChunk(List<ChunkResult> results) throws IOException {
    Map<Integer, List<NodeIterationStats>> byIteration = new TreeMap<>();
    List<String> chunkSpans = new ArrayList<>();
    for (ChunkResult r : results) {
      chunkSpans.addAll(r.spanLines());
      for (NodeIterationStats s : r.iterations()) {
        byIteration.computeIfAbsent(s.iteration(), k -> new ArrayList<>()).add(s);
      }
    }
    for (Map.Entry<Integer, List<NodeIterationStats>> e : byIteration.entrySet()) {
      List<NodeIterationStats> nodes = e.getValue();
      nodes.sort((a, b) -> Integer.compare(a.node(), b.node()));
      long micros = nodes.stream().mapToLong(NodeIterationStats::iterationMicros).max().orElse(0);
      double seconds = micros / 1e6;
      NodeIterationStats any = nodes.get(0);
      double pipelineSeconds =
          nodes.stream().mapToLong(NodeIterationStats::pipelineMicros).max().orElse(0) / 1e6;
      IterationRow row = new IterationRow(e.getKey(), any.meanLoss(), any.gradNorm(), seconds,
          seconds > 0 ? tokensPerIteration / seconds : 0, pipelineSeconds, any.lr());
      rows.add(row);
      ObjectNode line = JSON.createObjectNode();
      line.put("iteration", row.iteration());
      line.put("loss", row.loss());
      line.put("gradNorm", row.gradNorm());
      line.put("lr", row.lr());
      line.put("iterationSeconds", row.seconds());
      line.put("tokensPerSecond", row.tokensPerSecond());
      line.put("pipelineSeconds", row.pipelineSeconds());
      // wall-clock window over the nodes (µs since the epoch), for the timeline's iteration bands
      line.put("startEpochMicros",
          nodes.stream().mapToLong(NodeIterationStats::startEpochMicros).min().orElse(0));
      line.put("endEpochMicros", nodes.stream()
          .mapToLong(n -> n.startEpochMicros() + n.iterationMicros()).max().orElse(0));
      ArrayNode arr = line.putArray("nodes");
      for (NodeIterationStats s : nodes) {
        ObjectNode n = arr.addObject();
        n.put("node", s.node());
        n.put("stage", s.stage());
        n.put("busySeconds", s.busyMicros() / 1e6);
        n.put("waitSeconds", s.waitMicros() / 1e6);
        n.put("idleSeconds", s.idleMicros() / 1e6);
        if (micros > 0) {
          TrainingMetrics.get().recordNode(new TrainingMetrics.NodeShare(s.node(), s.stage(),
              Math.min(1, s.busyMicros() / (double) micros),
              Math.min(1, (micros - s.busyMicros()) / (double) micros)));
        }
      }
      iterationLines.add(line.toString());
      TrainingMetrics.get().recordIteration(new TrainingMetrics.Iteration(row.iteration() + 1,
          row.iteration() / chunkIterations + 1, row.loss(), row.tokensPerSecond(), micros));
    }
    spanLines.addAll(chunkSpans);
    if (log != null && !byIteration.isEmpty()) {
      log.afterChunk(iterationLines, byIteration.keySet().iterator().next(), chunkSpans);
    }
    if (progress && !rows.isEmpty()) {
      IterationRow last = rows.get(rows.size() - 1);
      int done = last.iteration() + 1;
      double elapsed = (System.nanoTime() - startNanos) / 1e9;
      int doneHere = rows.size();
      double eta = doneHere == 0 ? 0 : elapsed / doneHere * (totalIterations - done);
      console.printf("[skippipe] iteration %d/%d  loss %.4f  %.2f s/it  %.0f tokens/s  ETA %.0f s%n",
          done, totalIterations, last.loss(), last.seconds(), last.tokensPerSecond(), eta);
    }
  }

  public List<IterationRow> rows() {
    return List.copyOf(rows);
  }

  public List<String> iterationLines() {
    return List.copyOf(iterationLines);
  }

  public List<String> spanLines() {
    return List.copyOf(spanLines);
  }
}
