package io.skippipe.job.driver;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.ModelSettings;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.ModelExport;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.profile.ProfileJson;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model a run trains and the stages it is cut into, fitted to the cluster it plans on.
 *
 * <p><b>Architecture.</b> From {@code spark.skippipe.model.init}'s {@code config.json} (width,
 * layers, heads, kv heads, FFN width, vocabulary) when the run starts from a Hugging Face folder,
 * else from the {@code spark.skippipe.model} spec. The spec always gives the workload: sequence
 * length, samples per microbatch, microbatches per data node.
 *
 * <p><b>Stages.</b> {@code spark.skippipe.model.layersPerStage} when set; otherwise the layers are
 * split over the cluster profile's stage count. Stages hold equal whole numbers of layers, so when
 * the stage count does not divide the layers (llama-8b's 32 layers on a 6-stage cluster) the run
 * uses the divisor of the layers nearest the cluster's stage count (ties: more stages, less memory
 * per node) and regroups the cluster's nodes into that many stages — stage 0 keeps its data nodes
 * where it can, the other nodes are dealt as evenly as possible, earlier stages first — and logs a
 * warning naming both fixes. This makes every shipped cluster/model preset pair trainable.
 */
public final class RunModel {
  private static final Logger LOG = LoggerFactory.getLogger(RunModel.class);

  private RunModel() {}

  /**
   * The model spec and cluster profile a run plans on.
   *
   * @param model the spec: architecture, workload, layers per stage, bytes per activation element
   * @param cluster the profile, its nodes regrouped when the stage count had to change
   * @param notes what was derived and why (also logged), empty when nothing changed
   */
  public record Fit(ModelSpec model, ClusterProfile cluster, List<String> notes) {}

  /**
   * Fits the configured model to {@code cluster}.
   *
   * @param readUri reads a Hadoop URI's bytes (the folder's config.json)
   * @throws ConfigException naming the key at fault (model, model.init, model.layersPerStage)
   */
  public static Fit fit(JobConfig cfg, ClusterProfile cluster,
      Function<String, byte[]> readUri) {
    ObjectNode spec = ProfileJson.toJson(workload(cfg));
    ModelSettings m = cfg.modelSettings();
    if (m.fromFolder()) {
      HfConfig hf = hfConfig(m.init(), readUri);
      spec.put("name", "hf:" + m.init().substring(m.init().lastIndexOf('/') + 1));
      spec.put("description", "imported from " + m.init() + " (workload of " + cfg.model() + ")");
      spec.put("dim", hf.hiddenSize()).put("layers", hf.numHiddenLayers())
          .put("heads", hf.numAttentionHeads()).put("kvHeads", hf.numKeyValueHeads())
          .put("ffnDim", hf.intermediateSize()).put("vocab", hf.vocabSize());
      if (spec.get("seqLen").asInt() > hf.maxPositionEmbeddings()) {
        LOG.warn("training on sequences of {} tokens, beyond the {} positions of {}'s"
            + " max_position_embeddings", spec.get("seqLen").asInt(), hf.maxPositionEmbeddings(),
            m.init());
      }
    }
    spec.put("activationBytesPerElement", cfg.compute().stagePrecision().bytesPerElement());
    spec.put("activationCheckpointing", cfg.compute().activationCheckpointing());
    int layers = spec.get("layers").asInt();
    int stages = stageCount(layers, m.layersPerStage(), cluster);
    spec.put("layersPerStage", layers / stages);
    List<String> notes = new ArrayList<>();
    ClusterProfile fitted = cluster;
    if (stages != cluster.stageCount()) {
      fitted = regroup(cluster, stages);
      String why = m.layersPerStage() > 0
          ? String.format("%s=%d cuts %s's %d layers into %d stages, not the %d stages %s of"
              + " cluster %s", ConfigKeys.MODEL_LAYERS_PER_STAGE.name(), m.layersPerStage(),
              spec.get("name").asText(), layers, stages, cluster.stageCount(),
              cluster.stageSizes(), cluster.name())
          : String.format("%s's %d layers do not split into the %d stages %s of cluster %s",
              spec.get("name").asText(), layers, cluster.stageCount(), cluster.stageSizes(),
              cluster.name());
      String note = String.format("%s: training %d stages of %d layers on the nodes regrouped as"
              + " %s. Set %s to choose, or use a cluster whose stage count divides %d", why,
          stages, layers / stages, fitted.stageSizes(), ConfigKeys.MODEL_LAYERS_PER_STAGE.name(),
          layers);
      notes.add(note);
      LOG.warn(note);
    }
    return new Fit(ProfileJson.model(spec, "model " + spec.get("name").asText()), fitted, notes);
  }

  /** The {@code spark.skippipe.model} spec (workload, and the architecture without model.init). */
  private static ModelSpec workload(JobConfig cfg) {
    return JobPlanning.model(cfg);
  }

  /** The folder's config.json. */
  static HfConfig hfConfig(String folder, Function<String, byte[]> readUri) {
    String uri = folder + "/" + ModelExport.CONFIG;
    try {
      return HfConfig.read(new ByteArrayInputStream(readUri.apply(uri)), uri);
    } catch (UncheckedIOException e) {
      throw new ConfigException(ConfigKeys.MODEL_INIT.name(), folder, "cannot read " + uri
          + " (" + e.getCause() + ")", "point at a Hugging Face model folder holding config.json,"
          + " model.safetensors (or shards with model.safetensors.index.json) and tokenizer.json");
    } catch (IOException | IllegalArgumentException e) {
      throw new ConfigException(ConfigKeys.MODEL_INIT.name(), folder, e.getMessage(),
          "use a LlamaForCausalLM folder as save_pretrained writes it");
    }
  }

  /**
   * Stages the run trains: {@code layers / fixed} when the user fixed the layers per stage, else
   * the cluster's stage count if it divides the layers, else the nearest divisor (ties: more).
   */
  static int stageCount(int layers, int fixed, ClusterProfile cluster) {
    int nodes = cluster.size();
    if (fixed > 0) {
      if (layers % fixed != 0 || layers / fixed > nodes) {
        throw new ConfigException(ConfigKeys.MODEL_LAYERS_PER_STAGE.name(), "" + fixed,
            "must divide the model's " + layers + " layers into at most " + nodes
                + " stages (one node each at least, cluster " + cluster.name() + ")",
            "use one of " + divisors(layers, nodes) + ", or 0 to derive it from the cluster");
      }
      return layers / fixed;
    }
    int k = cluster.stageCount();
    int best = -1;
    for (int d = 1; d <= Math.min(layers, nodes); d++) {
      if (layers % d == 0 && (best < 0 || Math.abs(d - k) <= Math.abs(best - k))) {
        best = d;
      }
    }
    return best;
  }

  /** Layers per stage that give at most {@code nodes} stages. */
  private static List<Integer> divisors(int layers, int nodes) {
    List<Integer> out = new ArrayList<>();
    for (int l = 1; l <= layers; l++) {
      if (layers % l == 0 && layers / l <= nodes) {
        out.add(l);
      }
    }
    return out;
  }

  /**
   * {@code cluster} with its nodes regrouped into {@code stages} stages: stage 0 keeps its size
   * (its nodes are the data nodes) as far as the others can still get one node each; the other
   * nodes are dealt evenly, the first stages getting one more where they do not divide.
   */
  static ClusterProfile regroup(ClusterProfile cluster, int stages) {
    int n = cluster.size();
    int first = stages == 1 ? n : Math.min(cluster.stageSizes().get(0), n - (stages - 1));
    ObjectNode json = ProfileJson.toJson(cluster);
    ArrayNode sizes = json.putArray("stageSizes");
    sizes.add(first);
    int rest = n - first;
    for (int s = 1; s < stages; s++) {
      sizes.add(rest / (stages - 1) + (s - 1 < rest % (stages - 1) ? 1 : 0));
    }
    json.put("description", cluster.description() + " [regrouped into " + stages + " stages]");
    return ProfileJson.cluster(json, cluster.name());
  }
}
