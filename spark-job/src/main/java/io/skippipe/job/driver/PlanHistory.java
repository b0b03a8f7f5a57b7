package io.skippipe.job.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Every plan a run trained under, kept in the run directory:
 *
 * <ul>
 *   <li>{@code plans/plan-<hash>.json}: the plan exactly as the tasks ran it (its SHA-256 is the
 *       hash; {@code bin/skippipe simulate} and {@code timeline} read it);
 *   <li>{@code plans/history.jsonl}: one JSON line per stretch of steps one plan produced, in step
 *       order — {@code plan} (hash), {@code fromStep} (the weights it started from), {@code toStep}
 *       (the step it reached), {@code chunk}, {@code nodes} (live plan nodes), {@code
 *       skippedStages}, {@code executors} (node → executor slot), {@code predictedIterationSeconds}
 *       and {@code reason} (why the plan changed: start, executors lost, executors joined, slow
 *       links, resume). Rewritten whole after each chunk, like {@code metrics/iterations.jsonl};
 *       on resume from step {@code s} rows past {@code s} are cut back to it.
 * </ul>
 *
 * <p>Each checkpoint commit names the plan that produced its step ({@code planHash}).
 */
public final class PlanHistory {
  /** Folder of the plans, relative to the run directory. */
  public static final String DIR = "plans";
  /** The history file, relative to the run directory. */
  public static final String HISTORY = DIR + "/history.jsonl";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final FileSystem fs;
  private final Path runDir;
  private final List<ObjectNode> rows = new ArrayList<>();

  /** One stretch of steps under one plan. */
  public record Row(String plan, long fromStep, long toStep, int chunk, List<Integer> nodes,
      List<Integer> skippedStages, java.util.Map<Integer, String> executors,
      double predictedIterationSeconds, String reason) {}

  public PlanHistory(FileSystem fs, Path runDir) {
    this.fs = fs;
    this.runDir = fs.makeQualified(runDir);
  }

  /** The plan file of a hash, relative to the run directory. */
  public static String planFile(String hash) {
    return DIR + "/plan-" + hash + ".json";
  }

  /** Writes a plan's file unless it exists (same hash, same bytes). */
  public void savePlan(String hash, String json) throws IOException {
    Path p = new Path(runDir, planFile(hash));
    if (!fs.exists(p)) {
      write(p, json);
    }
  }

  /** Keeps the rows of a run resuming at {@code step} (cut back to it). */
  public void resumeAt(long step) throws IOException {
    rows.clear();
    for (JsonNode r : read()) {
      if (r.get("fromStep").asLong() >= step) {
        continue;
      }
      ObjectNode o = (ObjectNode) r;
      if (o.get("toStep").asLong() > step) {
        o.put("toStep", step);
      }
      rows.add(o);
    }
  }

  /** Appends rows (merging with the last row when it continues under the same plan). */
  public void add(List<Row> added) throws IOException {
    for (Row r : added) {
      ObjectNode last = rows.isEmpty() ? null : rows.get(rows.size() - 1);
      if (last != null && last.get("plan").asText().equals(r.plan())
          && last.get("toStep").asLong() == r.fromStep()) {
        last.put("toStep", r.toStep());
        continue;
      }
      ObjectNode o = JSON.createObjectNode();
      o.put("plan", r.plan());
      o.put("fromStep", r.fromStep());
      o.put("toStep", r.toStep());
      o.put("chunk", r.chunk());
      r.nodes().forEach(o.putArray("nodes")::add);
      r.skippedStages().forEach(o.putArray("skippedStages")::add);
      ObjectNode ex = o.putObject("executors");
      r.executors().forEach((n, e) -> ex.put(Integer.toString(n), e));
      o.put("predictedIterationSeconds", r.predictedIterationSeconds());
      o.put("reason", r.reason());
      rows.add(o);
    }
    StringBuilder b = new StringBuilder();
    rows.forEach(o -> b.append(o.toString()).append('\n'));
    write(new Path(runDir, HISTORY), b.toString());
  }

  /** The rows in the file. */
  public List<JsonNode> read() throws IOException {
    List<JsonNode> out = new ArrayList<>();
    try (InputStream in = fs.open(new Path(runDir, HISTORY))) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.isBlank()) {
          out.add(JSON.readTree(line));
        }
      }
    } catch (FileNotFoundException e) {
      return out;
    }
    return out;
  }

  private void write(Path p, String text) throws IOException {
    try (OutputStream out = fs.create(p, true)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }
}
