package io.skippipe.scheduler.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.profile.ProfileJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads and writes plan.json (DESIGN.md §5.2). Output is deterministic: fixed key order, no
 * timestamps, no wall-clock plan time, so the same inputs and seed give byte-identical files.
 */
public final class PlanCodec {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private PlanCodec() {}

  /** Writes the plan as pretty-printed UTF-8 JSON. Does not close the stream. */
  public static void write(Plan plan, OutputStream out) {
    try {
      out.write(toJsonString(plan).getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The plan as a JSON string (with a trailing newline). */
  public static String toJsonString(Plan plan) {
    try {
      DefaultPrettyPrinter pp = new DefaultPrettyPrinter();
      pp.indentArraysWith(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
      return MAPPER.writer(pp).writeValueAsString(toJson(plan)).replace("\r\n", "\n") + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The plan as a JSON tree. */
  public static ObjectNode toJson(Plan plan) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("format", plan.format());
    o.put("method", plan.method());
    o.put("seed", plan.seed());
    o.set("cluster", ProfileJson.toJson(plan.cluster()));
    o.set("model", ProfileJson.toJson(plan.model()));
    Constraints c = plan.constraints();
    ObjectNode cj = o.putObject("constraints");
    cj.put("pathLength", c.pathLength());
    cj.put("maxSwaps", c.maxSwaps());
    cj.put("maxSwapDistance", c.maxSwapDistance());
    cj.put("maxJump", c.maxJump());
    cj.put("memory", c.memory());
    cj.put("stageCap", c.stageCap());
    ArrayNode stages = o.putArray("stages");
    for (List<Integer> s : plan.stages()) {
      ArrayNode a = stages.addArray();
      s.forEach(a::add);
    }
    ArrayNode mbs = o.putArray("microbatches");
    for (PlannedMicrobatch m : plan.microbatches()) {
      ObjectNode mj = mbs.addObject();
      mj.put("id", m.id());
      mj.put("dataNode", m.dataNode());
      mj.put("releaseSeconds", m.releaseSeconds());
      ArrayNode p = mj.putArray("path");
      m.path().forEach(p::add);
    }
    List<Integer> skipped = plan.skippedStages();
    if (!skipped.isEmpty()) {
      ArrayNode sk = o.putArray("skippedStages");
      skipped.forEach(sk::add);
    }
    if (plan.predicted() != null) {
      ObjectNode pj = o.putObject("predicted");
      pj.put("iterationSeconds", plan.predicted().iterationSeconds());
      pj.put("pipelineSeconds", plan.predicted().pipelineSeconds());
      if (plan.predicted().planSeconds() != null) {
        pj.put("planSeconds", plan.predicted().planSeconds());
      }
    }
    return o;
  }

  /** Reads a plan file; malformed content is a {@link PlanningException} naming the file. */
  public static Plan read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString());
    } catch (IOException e) {
      throw PlanningException.of("plan file " + file, "cannot be read (" + e.getMessage() + ")",
          "pass the path of a plan.json written by 'skippipe plan'");
    }
  }

  /** Reads a plan from a stream. */
  public static Plan read(InputStream in) {
    return read(in, "plan.json");
  }

  /** Reads a plan from a stream; {@code source} names it in error messages. */
  public static Plan read(InputStream in, String source) {
    JsonNode j;
    try {
      j = MAPPER.readTree(in);
    } catch (IOException e) {
      throw PlanningException.of(source, "is not valid JSON: " + e.getMessage().split("\n")[0],
          "fix the JSON syntax or re-create it with 'skippipe plan'");
    }
    if (j == null || !j.isObject()) {
      throw PlanningException.of(source, "must hold one JSON object", "write a plan object");
    }
    String format = j.path("format").asText(Plan.FORMAT);
    if (!Plan.FORMAT.equals(format)) {
      throw PlanningException.of(source + " format '" + format + "'",
          "only " + Plan.FORMAT + " is understood", "re-create the plan with this version");
    }
    for (String f : new String[] {"cluster", "model", "constraints", "stages", "microbatches"}) {
      if (!j.has(f)) {
        throw PlanningException.of(source + ": field \"" + f + "\" missing",
            "a plan needs cluster, model, constraints, stages and microbatches",
            "add \"" + f + "\" or re-create the plan with 'skippipe plan'");
      }
    }
    JsonNode c = j.get("constraints");
    Constraints constraints = new Constraints(intField(c, "pathLength", source),
        intField(c, "maxSwaps", source), intField(c, "maxSwapDistance", source),
        intField(c, "maxJump", source), intField(c, "memory", source),
        intField(c, "stageCap", source));
    List<List<Integer>> stages = new ArrayList<>();
    for (JsonNode s : j.get("stages")) {
      stages.add(ints(s, source + " stages"));
    }
    List<PlannedMicrobatch> mbs = new ArrayList<>();
    for (JsonNode m : j.get("microbatches")) {
      int id = intField(m, "id", source);
      mbs.add(new PlannedMicrobatch(id, intField(m, "dataNode", source),
          m.path("releaseSeconds").asDouble(0.0), ints(m.get("path"),
              source + " microbatch " + id + " path")));
    }
    Plan.Predicted predicted = null;
    if (j.has("predicted") && j.get("predicted").has("iterationSeconds")) {
      JsonNode p = j.get("predicted");
      predicted = new Plan.Predicted(p.get("iterationSeconds").asDouble(),
          p.path("pipelineSeconds").asDouble(Double.NaN),
          p.has("planSeconds") ? p.get("planSeconds").asDouble() : null);
    }
    return new Plan(Plan.FORMAT, j.path("method").asText("unknown"), j.path("seed").asLong(0),
        ProfileJson.cluster(j.get("cluster"), source + " cluster"),
        ProfileJson.model(j.get("model"), source + " model"), constraints, stages, mbs, predicted);
  }

  private static int intField(JsonNode j, String f, String source) {
    JsonNode v = j.get(f);
    if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
      throw PlanningException.of(source + ": \"" + f + "\" = " + v, "must be an integer",
          "write a whole number for \"" + f + "\"");
    }
    return v.asInt();
  }

  private static List<Integer> ints(JsonNode a, String what) {
    if (a == null || !a.isArray()) {
      throw PlanningException.of(what + " = " + a, "must be an array of node ids",
          "write e.g. [0, 8, 14, 12]");
    }
    List<Integer> out = new ArrayList<>();
    for (JsonNode v : a) {
      if (!v.isIntegralNumber()) {
        throw PlanningException.of(what + " element " + v, "node ids are integers",
            "write node ids as whole numbers");
      }
      out.add(v.asInt());
    }
    return out;
  }
}
