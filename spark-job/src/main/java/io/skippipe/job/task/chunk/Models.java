package io.skippipe.job.task.chunk;

import io.skippipe.model.LlamaConfig;
import io.skippipe.scheduler.profile.ModelSpec;

/** Conversions between the planner's {@link ModelSpec} and the model's {@link LlamaConfig}. */
public final class Models {
  private Models() {}

  /** The LLaMA configuration a plan's model spec describes (default norm eps and RoPE theta). */
  public static LlamaConfig llama(ModelSpec m) {
    return LlamaConfig.of(m.dim(), m.layers(), m.heads(), m.kvHeads(), m.ffnDim(), m.vocab(),
        m.seqLen(), m.layersPerStage());
  }
}
