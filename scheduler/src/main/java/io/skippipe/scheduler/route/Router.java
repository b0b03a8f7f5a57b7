package io.skippipe.scheduler.route;

import io.skippipe.scheduler.cost.CostModel;
import java.util.List;
import java.util.random.RandomGenerator;

/** Computes one path per microbatch on given stages (spec §4). Seeded through {@code rng}. */
public interface Router {
  /** The method name in the registry and the comparison table. */
  String name();

  /** Routes every microbatch of one iteration. */
  Schedule route(List<List<Integer>> stages, CostModel costs, RouteConfig cfg,
      RandomGenerator rng);
}
