package io.skippipe.scheduler.route;

import io.skippipe.scheduler.cost.CostModel;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * DT-FM full pipeline (the baseline, spec §4.6 with quirk Q8 fixed): pipeline j is
 * {@code stages[0][j] → stages[1][j] → ... → stages[K-1][j]} for j below the smallest stage size.
 * For a fair comparison it processes the same dataNodes × M microbatches as the other methods; when
 * there are fewer complete pipelines than data nodes the microbatches are spread round-robin over
 * the pipelines (each injected at its pipeline's data node). A stage with no live node (all
 * replicas lost) is skipped by every pipeline.
 */
public final class FullPipelineRouter implements Router {
  @Override
  public String name() {
    return "dtfm";
  }

  @Override
  public Schedule route(List<List<Integer>> stages, CostModel costs, RouteConfig cfg,
      RandomGenerator rng) {
    List<List<Integer>> live = stages.stream().filter(s -> !s.isEmpty()).toList();
    int pipelines = live.stream().mapToInt(List::size).min().orElseThrow();
    int total = stages.get(0).size() * cfg.microbatchesPerDataNode();
    List<Microbatch> mbs = new ArrayList<>();
    for (int g = 0; g < total; g++) {
      int j = g % pipelines;
      int[] p = new int[live.size()];
      for (int s = 0; s < live.size(); s++) {
        p[s] = live.get(s).get(j);
      }
      mbs.add(new Microbatch(g, p[0], 0, Path.of(p)));
    }
    return new Schedule(stages, mbs);
  }
}
