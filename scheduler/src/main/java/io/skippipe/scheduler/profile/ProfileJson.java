package io.skippipe.scheduler.profile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.scheduler.plan.PlanningException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cluster profiles and model specs to and from JSON trees (DESIGN.md §5.1). Field order on output
 * is fixed so that plan.json bytes are deterministic.
 *
 * <p>Cluster JSON: {@code name, description, nodes [{id, location, speed?, memoryMicrobatches?}],
 * memoryMicrobatches? (default for nodes), stageSizes, links [{a, b, latencyMs, bandwidthGBps}],
 * defaultLink {latencyMs, bandwidthGBps}, hopOverheadSeconds, computeSecondsPerSampleLayer,
 * linkContention?, optimizerSecondsPerParameter?}; a node may carry {@code "lost": true}.
 */
public final class ProfileJson {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private ProfileJson() {}

  /** Parses a cluster profile; {@code source} names the file in error messages. */
  public static ClusterProfile cluster(JsonNode j, String source) {
    try {
      String name = text(j, "name", source, source);
      int defaultMemory = j.has("memoryMicrobatches") ? j.get("memoryMicrobatches").asInt() : 3;
      List<Node> nodes = new ArrayList<>();
      for (JsonNode n : array(j, "nodes", source)) {
        int id = req(n, "id", source).asInt();
        nodes.add(new Node(id, text(n, "location", source, null),
            n.has("speed") ? n.get("speed").asDouble() : 1.0,
            n.has("memoryMicrobatches") ? n.get("memoryMicrobatches").asInt() : defaultMemory,
            n.path("lost").asBoolean(false)));
      }
      List<Integer> sizes = new ArrayList<>();
      for (JsonNode s : array(j, "stageSizes", source)) {
        sizes.add(s.asInt());
      }
      Map<String, Link> links = new LinkedHashMap<>();
      if (j.has("links")) {
        for (JsonNode l : array(j, "links", source)) {
          String a = text(l, "a", source, null);
          String b = text(l, "b", source, null);
          links.put(ClusterProfile.pairKey(a, b), link(l, source));
        }
      }
      return new ClusterProfile(name, j.path("description").asText(""), nodes, sizes, links,
          link(req(j, "defaultLink", source), source),
          req(j, "hopOverheadSeconds", source).asDouble(),
          req(j, "computeSecondsPerSampleLayer", source).asDouble(),
          j.path("linkContention").asBoolean(false),
          j.path("optimizerSecondsPerParameter")
              .asDouble(ClusterProfile.DEFAULT_OPTIMIZER_SECONDS_PER_PARAMETER));
    } catch (PlanningException e) {
      throw e.getMessage().startsWith(source) ? e
          : new PlanningException(source + ": " + e.getMessage(), e);
    }
  }

  /** Parses a model spec; {@code source} names the file in error messages. */
  public static ModelSpec model(JsonNode j, String source) {
    try {
      return new ModelSpec(text(j, "name", source, source), j.path("description").asText(""),
          integer(j, "dim", source), integer(j, "layers", source), integer(j, "heads", source),
          integer(j, "kvHeads", source), integer(j, "ffnDim", source),
          integer(j, "vocab", source), integer(j, "seqLen", source),
          integer(j, "layersPerStage", source), integer(j, "samplesPerMicrobatch", source),
          integer(j, "microbatchesPerDataNode", source),
          integer(j, "activationBytesPerElement", source), longs(j, "gradientBytesPerStage"),
          bool(j, "activationCheckpointing", source));
    } catch (PlanningException e) {
      throw e.getMessage().startsWith(source) ? e
          : new PlanningException(source + ": " + e.getMessage(), e);
    }
  }

  /** The cluster profile as a JSON tree, fields in a fixed order. */
  public static ObjectNode toJson(ClusterProfile p) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("name", p.name());
    o.put("description", p.description());
    ArrayNode nodes = o.putArray("nodes");
    for (Node n : p.nodes()) {
      ObjectNode x = nodes.addObject();
      x.put("id", n.id());
      x.put("location", n.location());
      x.put("speed", n.speed());
      x.put("memoryMicrobatches", n.memoryMicrobatches());
      if (n.lost()) {
        x.put("lost", true);
      }
    }
    ArrayNode sizes = o.putArray("stageSizes");
    p.stageSizes().forEach(sizes::add);
    ArrayNode links = o.putArray("links");
    for (Map.Entry<String, Link> e : p.links().entrySet()) {
      String[] ab = e.getKey().split("\\|", 2);
      ObjectNode l = links.addObject();
      l.put("a", ab[0]);
      l.put("b", ab[1]);
      l.put("latencyMs", e.getValue().latencyMs());
      l.put("bandwidthGBps", e.getValue().bandwidthGBps());
    }
    ObjectNode d = o.putObject("defaultLink");
    d.put("latencyMs", p.defaultLink().latencyMs());
    d.put("bandwidthGBps", p.defaultLink().bandwidthGBps());
    o.put("hopOverheadSeconds", p.hopOverheadSeconds());
    o.put("computeSecondsPerSampleLayer", p.computeSecondsPerSampleLayer());
    o.put("linkContention", p.linkContention());
    o.put("optimizerSecondsPerParameter", p.optimizerSecondsPerParameter());
    return o;
  }

  /** The model spec as a JSON tree, fields in a fixed order. */
  public static ObjectNode toJson(ModelSpec m) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("name", m.name());
    o.put("description", m.description());
    o.put("dim", m.dim());
    o.put("layers", m.layers());
    o.put("heads", m.heads());
    o.put("kvHeads", m.kvHeads());
    o.put("ffnDim", m.ffnDim());
    o.put("vocab", m.vocab());
    o.put("seqLen", m.seqLen());
    o.put("layersPerStage", m.layersPerStage());
    o.put("samplesPerMicrobatch", m.samplesPerMicrobatch());
    o.put("microbatchesPerDataNode", m.microbatchesPerDataNode());
    o.put("activationBytesPerElement", m.activationBytesPerElement());
    if (m.gradientBytesPerStage() != null) {
      ArrayNode g = o.putArray("gradientBytesPerStage");
      m.gradientBytesPerStage().forEach(g::add);
    }
    if (m.activationCheckpointing()) {
      o.put("activationCheckpointing", true);
    }
    return o;
  }

  private static List<Long> longs(JsonNode j, String field) {
    if (!j.has(field) || j.get(field).isNull()) {
      return null;
    }
    List<Long> out = new ArrayList<>();
    for (JsonNode v : j.get(field)) {
      if (!v.isIntegralNumber()) {
        throw PlanningException.of("\"" + field + "\" element " + v, "must be an integer",
            "write whole byte counts");
      }
      out.add(v.asLong());
    }
    return out;
  }

  private static Link link(JsonNode l, String source) {
    return new Link(req(l, "latencyMs", source).asDouble(),
        req(l, "bandwidthGBps", source).asDouble());
  }

  private static JsonNode req(JsonNode j, String field, String source) {
    JsonNode v = j.get(field);
    if (v == null || v.isNull()) {
      throw PlanningException.of(source + ": field \"" + field + "\" missing in " + abbreviate(j),
          "the field is required (DESIGN.md §5.1)", "add \"" + field + "\"");
    }
    return v;
  }

  /** An optional boolean field, false when absent. */
  private static boolean bool(JsonNode j, String field, String source) {
    JsonNode v = j.get(field);
    if (v == null || v.isNull()) {
      return false;
    }
    if (!v.isBoolean()) {
      throw PlanningException.of(source + ": \"" + field + "\" = " + v,
          "must be true or false", "write true or false (or leave it out: false)");
    }
    return v.asBoolean();
  }

  private static int integer(JsonNode j, String field, String source) {
    JsonNode v = req(j, field, source);
    if (!v.canConvertToInt() || !v.isNumber()) {
      throw PlanningException.of(source + ": \"" + field + "\" = " + v,
          "must be an integer", "write a whole number");
    }
    return v.asInt();
  }

  private static String text(JsonNode j, String field, String source, String dflt) {
    JsonNode v = j.get(field);
    if (v == null || v.isNull()) {
      if (dflt != null) {
        return dflt;
      }
      req(j, field, source);
    }
    return v.asText();
  }

  private static JsonNode array(JsonNode j, String field, String source) {
    JsonNode v = req(j, field, source);
    if (!v.isArray()) {
      throw PlanningException.of(source + ": \"" + field + "\" = " + abbreviate(v),
          "must be a JSON array", "write \"" + field + "\": [ ... ]");
    }
    return v;
  }

  private static String abbreviate(JsonNode j) {
    String s = j.toString();
    return s.length() > 80 ? s.substring(0, 77) + "..." : s;
  }
}
