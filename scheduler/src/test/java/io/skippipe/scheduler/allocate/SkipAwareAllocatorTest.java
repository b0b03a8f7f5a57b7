package io.skippipe.scheduler.allocate;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.Fixtures;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;

/**
 * The skip-aware allocator never returns stages worse, by its own simulated skippipe time, than
 * GCMA's (its start), on random small clusters; and it does find better ones.
 */
class SkipAwareAllocatorTest {

  @Test
  void neverWorseThanGcmaOnRandomSmallClustersAndSometimesBetter() {
    int compared = 0;
    int better = 0;
    List<String> worse = new ArrayList<>();
    for (int seed = 1; seed <= 12; seed++) {
      RandomGenerator rng = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
      int k = 3 + rng.nextInt(2);
      List<Integer> sizes = new ArrayList<>();
      sizes.add(2 + rng.nextInt(2));
      for (int s = 1; s < k; s++) {
        sizes.add(2 + rng.nextInt(2));
      }
      ClusterProfile cluster = Fixtures.randomCluster(sizes, 2 + rng.nextInt(4), 3, rng);
      ModelSpec model = Fixtures.model(k, 3);
      for (String objective : List.of("iteration", "pipeline")) {
        PlannerConfig d = PlannerConfig.defaults("skippipe").withSeed(seed);
        PlannerConfig.Allocation a = d.allocation().withGcma(10, 60).withEvaluations(25)
            .withObjective(objective);
        try {
          Plan gcma = Planner.plan(cluster, model, d.withAllocation(a.withAllocator("genetic")));
          Plan skip = Planner.plan(cluster, model,
              d.withAllocation(a.withAllocator("skip-aware")));
          double g = objective.equals("pipeline") ? gcma.pipelineSeconds()
              : gcma.iterationSeconds();
          double s = objective.equals("pipeline") ? skip.pipelineSeconds()
              : skip.iterationSeconds();
          compared++;
          if (s > g + 1e-9) {
            worse.add("seed " + seed + " " + objective + ": " + s + " > GCMA " + g);
          }
          if (s < g - 1e-9) {
            better++;
          }
        } catch (PlanningException e) {
          assertTrue(e.getMessage().contains("Fix:"), e.getMessage());
        }
      }
    }
    assertTrue(worse.isEmpty(), worse.toString());
    assertTrue(compared >= 16, "compared " + compared);
    assertTrue(better >= 2, "the search improved on GCMA in only " + better + " of " + compared);
  }
}
