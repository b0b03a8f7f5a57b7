package io.skippipe.job.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.job.task.chunk.Models;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.ParameterLayout;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Presets;
import org.junit.jupiter.api.Test;

/**
 * The planner's parameter count per stage (gradient bytes of the all-reduce, optimizer cost,
 * weight movement) against the model module's own layout, an independent implementation.
 */
class ParameterCountTest {
  @Test
  void everyPresetsStagesHaveTheModelsParameterCount() {
    for (String name : Presets.names("models")) {
      ModelSpec spec = Presets.model(name);
      LlamaConfig cfg = Models.llama(spec);
      for (int s = 0; s < spec.stages(); s++) {
        long layout = ParameterLayout.forStage(cfg, s).stream()
            .mapToLong(ParameterLayout.Param::size).sum();
        assertEquals(layout, spec.parametersOfStage(s), name + " stage " + s);
      }
    }
  }
}
