package io.skippipe.scheduler.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.scheduler.cost.CostModel;
import io.skippipe.scheduler.plan.PlanningException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shipped presets load, match the spec's numbers, and resolve from the classpath too. */
class PresetsTest {

  @Test
  void everyShippedPresetLoads() {
    for (String c : List.of("geo-distributed-gcp-20", "single-cluster-20", "five-clusters-20",
        "geo-distributed-gcp-42", "laptop-geo-12")) {
      ClusterProfile p = Presets.cluster(c);
      assertEquals(c, p.name());
      assertTrue(p.description().length() > 50, "documented: " + c);
    }
    for (String m : List.of("llama-tiny", "llama-500m", "llama-1.5b", "llama-8b")) {
      assertEquals(m, Presets.model(m).name());
    }
    assertEquals(List.of(7, 5, 5, 5, 5, 5, 5, 5), Presets.cluster("geo-distributed-gcp-42")
        .stageSizes());
    assertEquals(8, Presets.model("llama-8b").stages());
    assertEquals(6, Presets.model("llama-tiny").stages());
    assertEquals(List.of(2, 2, 2, 2, 2, 2), Presets.cluster("laptop-geo-12").stageSizes());
  }

  @Test
  void gcpTableAndCostFormulaReproduceTheReferenceHopCosts() {
    // spec §9.1: c[0][1] (Australia–Belgium) = 3.6591242236024843, c[7][11] (NL–London) =
    // 132.31356288659794, c[0][12] (same location) = 0.366625, c[3][7] = 0.4823659793814434.
    CostModel c = CostModel.of(Presets.cluster("geo-distributed-gcp-20"),
        Presets.model("llama-500m"));
    assertEquals(3.6591242236024843, c.hopSeconds(0, 1), 1e-6);
    assertEquals(132.31356288659794, c.hopSeconds(7, 11), 1e-6);
    assertEquals(0.366625, c.hopSeconds(0, 12), 1e-6);
    assertEquals(0.4823659793814434, c.hopSeconds(3, 7), 1e-6);
    assertEquals(1.76, c.forwardSeconds(0), 1e-12);
    // Row 0 of the spec, rounded to 4 decimals.
    double[] row0 = {0, 3.6591, 2.8184, 3.4627, 3.2166, 2.6735, 2.5523, 3.7601, 2.5513, 1.4472,
        1.9054, 3.8067, 0.3666, 3.6591, 2.8184, 3.4627, 3.2166, 2.6735, 2.5523, 3.7601};
    for (int y = 0; y < 20; y++) {
      assertEquals(row0[y], c.hopSeconds(0, y), 6e-5, "c[0][" + y + "]");
    }
  }

  @Test
  void presetsResolveFromTheClasspathWithoutAConfDirectory() {
    String saved = System.getProperty("skippipe.repo.root");
    String home = System.getProperty("skippipe.home");
    try {
      System.clearProperty("skippipe.repo.root");
      System.clearProperty("skippipe.home");
      assertEquals(20, Presets.cluster("geo-distributed-gcp-20").size());
      assertEquals(1024, Presets.model("llama-500m").dim());
    } finally {
      if (saved != null) {
        System.setProperty("skippipe.repo.root", saved);
      }
      if (home != null) {
        System.setProperty("skippipe.home", home);
      }
    }
  }

  @Test
  void unknownPresetNamesTheValueAndTheChoices() {
    PlanningException e = assertThrows(PlanningException.class,
        () -> Presets.cluster("geo-distributed-gcp-21"));
    assertTrue(e.getMessage().contains("geo-distributed-gcp-21"));
    assertTrue(e.getMessage().contains("geo-distributed-gcp-20"), e.getMessage());
  }
}
