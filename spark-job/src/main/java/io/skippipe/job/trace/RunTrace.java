package io.skippipe.job.trace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.config.JobConfig;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.HtmlTimeline;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import io.skippipe.scheduler.timeline.TimelineBuilder;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reads what a run directory holds for its timeline, through Hadoop FileSystem (local paths,
 * hdfs://, s3a://):
 *
 * <ul>
 *   <li>{@code trace/*.jsonl}: measured spans, one part per chunk ({@code
 *       measured-spans-<first iteration>.jsonl}) or one {@code measured-spans.jsonl} of older
 *       runs; spans are µs from the run's origin ({@code run.json}'s {@code originMicros});
 *   <li>{@code metrics/iterations.jsonl}: each iteration's {@code startEpochMicros} and {@code
 *       endEpochMicros} (wall clock, earliest start and latest end over its nodes), made relative
 *       with {@code run.json}'s {@code originMicros};
 *   <li>{@code trace/network.json} ({@link #writeNetwork}): the network mode and time scale the
 *       run emulated, which scales the predicted timeline.
 * </ul>
 */
public final class RunTrace {
  /** Relative path of the network settings the driver records for the timeline. */
  public static final String NETWORK = "trace/network.json";
  private static final Pattern PART = Pattern.compile("measured-spans-(\\d+)\\.jsonl");
  private static final ObjectMapper JSON = new ObjectMapper();

  private RunTrace() {}

  /** The run's plan.json. */
  public static Plan plan(FileSystem fs, Path runDir) throws IOException {
    Path p = new Path(runDir, "plan.json");
    try (InputStream in = fs.open(p)) {
      return PlanCodec.read(in, p.toString());
    } catch (FileNotFoundException e) {
      throw new IllegalArgumentException(runDir + " has no plan.json: it is not a run directory"
          + " (or the run stopped before planning); pass RUN_DIR (spark.skippipe.run.dir) or a"
          + " plan.json");
    }
  }

  /**
   * The measured spans by chunk: every {@code *.jsonl} directly under {@code RUN_DIR/trace}, in
   * iteration order (parts named {@code measured-spans-N.jsonl}) then name order. Empty when the
   * run has no trace yet.
   */
  public static List<TimelineBuilder.Chunk> chunks(FileSystem fs, Path runDir) throws IOException {
    Path trace = new Path(runDir, "trace");
    List<TimelineBuilder.Chunk> chunks = new ArrayList<>();
    if (!fs.exists(trace)) {
      return chunks;
    }
    FileStatus[] parts = fs.listStatus(trace, p -> p.getName().endsWith(".jsonl")
        && !p.getName().startsWith("."));
    Arrays.sort(parts, Comparator.comparingLong((FileStatus f) -> first(f.getPath().getName()))
        .thenComparing(f -> f.getPath().getName()));
    for (FileStatus part : parts) {
      try (InputStream in = fs.open(part.getPath())) {
        chunks.add(new TimelineBuilder.Chunk((int) first(part.getPath().getName()),
            SpanJson.read(in)));
      }
    }
    return chunks;
  }

  /** All measured spans of the run (every chunk). */
  public static List<Span> spans(FileSystem fs, Path runDir) throws IOException {
    List<Span> all = new ArrayList<>();
    chunks(fs, runDir).forEach(c -> all.addAll(c.spans()));
    return all;
  }

  /**
   * The measured iteration windows (µs from the run's origin); empty when {@code run.json} or the
   * iterations' wall-clock times are missing (runs before they were recorded).
   */
  public static List<TimelineBuilder.Iteration> iterations(FileSystem fs, Path runDir)
      throws IOException {
    JsonNode run = readJson(fs, new Path(runDir, "run.json"));
    List<TimelineBuilder.Iteration> out = new ArrayList<>();
    if (run == null || !run.has("originMicros")) {
      return out;
    }
    long origin = run.get("originMicros").asLong();
    for (String line : lines(fs, new Path(runDir, "metrics/iterations.jsonl"))) {
      JsonNode j = JSON.readTree(line);
      if (j.has("startEpochMicros") && j.has("endEpochMicros")) {
        out.add(new TimelineBuilder.Iteration(j.get("iteration").asInt(),
            j.get("startEpochMicros").asLong() - origin,
            j.get("endEpochMicros").asLong() - origin));
      }
    }
    return out;
  }

  /** The time scale the run emulated (and where it came from), 1 when not recorded. */
  public record TimeScale(double value, String source) {}

  /** Reads {@code trace/network.json}. */
  public static TimeScale timeScale(FileSystem fs, Path runDir) throws IOException {
    JsonNode n = readJson(fs, new Path(runDir, NETWORK));
    if (n == null) {
      return new TimeScale(1.0, "not recorded by this run; pass --time-scale");
    }
    if (!n.path("mode").asText().equals("emulated")) {
      return new TimeScale(1.0, "network mode " + n.path("mode").asText() + ", not emulated");
    }
    return new TimeScale(n.get("timeScale").asDouble(), "the run's"
        + " spark.skippipe.network.timeScale");
  }

  /** Records the run's network mode and time scale in {@code RUN_DIR/trace/network.json}. */
  public static void writeNetwork(FileSystem fs, Path runDir, JobConfig cfg) throws IOException {
    ObjectNode o = JSON.createObjectNode();
    o.put("mode", cfg.network().mode());
    o.put("timeScale", cfg.network().timeScale());
    o.put("padCompute", cfg.network().padCompute());
    try (OutputStream out = fs.create(new Path(runDir, NETWORK), true)) {
      out.write((o + "\n").getBytes(StandardCharsets.UTF_8));
    }
  }

  /** Everything the timeline of a run directory needs. */
  public static TimelineBuilder.Run run(FileSystem fs, Path runDir, Double timeScale)
      throws IOException {
    TimeScale recorded = timeScale(fs, runDir);
    return new TimelineBuilder.Run(runDir.toString(), chunks(fs, runDir),
        iterations(fs, runDir), timeScale != null ? timeScale : recorded.value(),
        timeScale != null ? "--time-scale" : recorded.source());
  }

  /**
   * The timeline page of a run directory: its measured spans under the prediction, or the plan's
   * predicted iteration while nothing was measured yet. {@code timeScale} null = the recorded one.
   */
  public static HtmlTimeline.Page page(FileSystem fs, Path runDir, Double timeScale)
      throws IOException {
    Plan plan = plan(fs, runDir).withPredicted(null);
    SimulationResult sim = Simulator.run(plan); // drawn as it is: a run may use any plan.file
    TimelineBuilder.Run run = run(fs, runDir, timeScale);
    return run.chunks().stream().anyMatch(c -> !c.spans().isEmpty())
        ? TimelineBuilder.run(plan, sim, run) : TimelineBuilder.plan(plan, sim);
  }

  /** Writes {@link #page} to {@code RUN_DIR/timeline.html}; returns its path. */
  public static Path writePage(FileSystem fs, Path runDir) throws IOException {
    Path out = new Path(runDir, "timeline.html");
    HtmlTimeline.Page page = page(fs, runDir, null);
    try (OutputStream o = fs.create(out, true)) {
      HtmlTimeline.write(page, o);
    }
    return out;
  }

  private static long first(String name) {
    Matcher m = PART.matcher(name);
    return m.matches() ? Long.parseLong(m.group(1)) : -1;
  }

  private static JsonNode readJson(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return JSON.readTree(in);
    } catch (FileNotFoundException e) {
      return null;
    }
  }

  private static List<String> lines(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      List<String> out = new ArrayList<>();
      for (String l : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!l.isBlank()) {
          out.add(l);
        }
      }
      return out;
    } catch (FileNotFoundException e) {
      return List.of();
    }
  }
}
