package io.skippipe.job.config;

import java.io.Serializable;

/**
 * Where the model's weights start and how it is cut into stages: {@code spark.skippipe.model.init}
 * (a Hugging Face folder, or empty for random init from the seed) and {@code
 * spark.skippipe.model.layersPerStage} (0 = derived from the cluster's stage count; see {@code
 * driver.RunModel}).
 *
 * @param init Hadoop URI or path of a Hugging Face LlamaForCausalLM folder, without a trailing
 *     slash; empty = random init
 * @param layersPerStage decoder layers per stage, or 0 to derive them
 */
public record ModelSettings(String init, int layersPerStage) implements Serializable {
  /** The name of the tokenizer file in a Hugging Face folder. */
  public static final String TOKENIZER_FILE = "tokenizer.json";

  public ModelSettings {
    init = init.endsWith("/") ? init.substring(0, init.length() - 1) : init;
  }

  /** Whether the run starts from a Hugging Face folder. */
  public boolean fromFolder() {
    return !init.isEmpty();
  }

  /**
   * The run's tokenizer: {@code spark.skippipe.data.tokenizer} when set, else the folder's
   * tokenizer.json when starting from one, else empty (the bundled tokenizer).
   */
  public String tokenizer(String dataTokenizer) {
    return !dataTokenizer.isEmpty() || !fromFolder() ? dataTokenizer
        : init + "/" + TOKENIZER_FILE;
  }
}
