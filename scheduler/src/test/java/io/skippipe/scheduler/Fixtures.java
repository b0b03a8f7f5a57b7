package io.skippipe.scheduler;

import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.profile.Node;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/** Small hand-made clusters and models for tests. */
public final class Fixtures {
  private Fixtures() {}

  /** A model with the given number of stages (2 layers each) and M microbatches per data node. */
  public static ModelSpec model(int stages, int microbatchesPerDataNode) {
    return new ModelSpec("test-model", "", 8, 2 * stages, 2, 2, 16, 32, 4, 2, 1,
        microbatchesPerDataNode, 4);
  }

  /**
   * A random cluster: sizes as given, nodes spread over {@code locations} random locations with
   * random links, memory as given.
   */
  public static ClusterProfile randomCluster(List<Integer> stageSizes, int locations, int memory,
      RandomGenerator rng) {
    int n = stageSizes.stream().mapToInt(Integer::intValue).sum();
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      nodes.add(new Node(i, "L" + rng.nextInt(locations), 0.5 + rng.nextDouble(), memory));
    }
    Map<String, Link> links = new LinkedHashMap<>();
    for (int a = 0; a < locations; a++) {
      for (int b = a + 1; b < locations; b++) {
        links.put(ClusterProfile.pairKey("L" + a, "L" + b),
            new Link(1 + rng.nextInt(100), 0.0001 + rng.nextDouble() * 0.01));
      }
    }
    return new ClusterProfile("random", "", nodes, stageSizes, links, new Link(1, 2.0), 0.01,
        0.05, false);
  }
}
