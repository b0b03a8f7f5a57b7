package io.skippipe.job.task.role;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.job.task.peer.SlotAddress;
import io.skippipe.job.task.role.Roles.Source;
import io.skippipe.job.task.role.Roles.StageRecovery;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.Link;
import io.skippipe.scheduler.profile.Node;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The roles every task of a chunk attempt derives from the gathered slots: survivors keep their
 * node and weights, the resume step is the newest step every node can have, a lost replica costs
 * nothing, a lost stage is rebuilt (neighbours) or rolls every stage back to the commit
 * (checkpoint). Plans: the toy model's 4 stages; the first plan is [[0,1],[2],[3,4],[5]].
 */
class RolesTest {
  static final Plan FULL = plan(List.of(List.of(0, 1), List.of(2), List.of(3, 4), List.of(5)), 6);

  /** A plan with these stages on {@code size} node ids; ids listed nowhere are lost. */
  static Plan plan(List<List<Integer>> stages, int size) {
    List<Integer> live = stages.stream().flatMap(List::stream).toList();
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      nodes.add(new Node(i, "loc" + (i % 3), 1.0, 2, !live.contains(i)));
    }
    ClusterProfile c = new ClusterProfile("toy", "", nodes,
        stages.stream().map(List::size).toList(), Map.of(), new Link(5, 0.05), 0.001, 0.001,
        false);
    return new Plan(Plan.FORMAT, "skippipe", 5, c, TestPlans.MODEL,
        TestPlans.skippipe().constraints(), stages, List.of(), null);
  }

  static SlotAddress addr(String exec, int slot) {
    return new SlotAddress(exec, slot, "127.0.0.1", 7000 + slot, "");
  }

  static SlotStatus holding(String exec, int slot, int node, int stage, long step) {
    return new SlotStatus(addr(exec, slot), node, stage, step, new double[] {0.5, 2.0, 1.0, 0.25});
  }

  static SlotStatus empty(String exec, int slot) {
    return SlotStatus.empty(addr(exec, slot));
  }

  static Roles.Assignment assign(Plan p, Set<Integer> recover, StageRecovery policy,
      long commit, List<SlotStatus> slots) {
    return Roles.assign(new Roles.Request(p, Map.of(), recover, policy, commit), slots);
  }

  /** Every survivor of the full plan at {@code step}, one executor each ("e<node>"). */
  static List<SlotStatus> survivors(Plan p, long step, int... without) {
    List<SlotStatus> out = new ArrayList<>();
    for (int n : p.liveNodes()) {
      if (java.util.Arrays.stream(without).noneMatch(w -> w == n)) {
        out.add(holding("e" + n, 0, n, p.stageOf(n), step));
      }
    }
    return out;
  }

  @Test
  void aFreshRunStartsEveryNodeFromTheInitialWeightsInNodeOrder() {
    List<SlotStatus> slots = new ArrayList<>();
    for (int i = 5; i >= 0; i--) {
      slots.add(empty("exec-" + (char) ('a' + i), 0));
    }
    Roles.Assignment a = assign(FULL, Set.of(), StageRecovery.CHECKPOINT, -1, slots);
    assertEquals(0, a.resumeStep());
    assertEquals(6, a.roles().size());
    for (Roles.Role r : a.roles().values()) {
      assertEquals(Source.INIT, r.source());
      assertEquals("exec-" + (char) ('a' + r.node()) + "/0", r.slot().key());
    }
    assertTrue(a.donors().isEmpty());
    assertThrows(IllegalStateException.class,
        () -> assign(FULL, Set.of(), StageRecovery.CHECKPOINT, -1, slots.subList(0, 5)));
  }

  @Test
  void survivorsKeepTheirNodeAndWeightsWhateverSlotOrderSparkGives() {
    List<SlotStatus> slots = new ArrayList<>(survivors(FULL, 4));
    java.util.Collections.reverse(slots);
    Roles.Assignment a = assign(FULL, Set.of(), StageRecovery.CHECKPOINT, 4, slots);
    assertEquals(4, a.resumeStep());
    for (Roles.Role r : a.roles().values()) {
      assertEquals(Source.CACHE, r.source(), "node " + r.node());
      assertEquals("e" + r.node() + "/0", r.slot().key());
    }
    // a preferred slot (the probe's numbering) wins when no slot holds a stage
    List<SlotStatus> fresh = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      fresh.add(empty("x", i));
    }
    Map<Integer, String> pref = new HashMap<>();
    for (int n = 0; n < 6; n++) {
      pref.put(n, "x/" + (5 - n));
    }
    Roles.Assignment p = Roles.assign(new Roles.Request(FULL, pref, Set.of(),
        StageRecovery.CHECKPOINT, -1), fresh);
    for (Roles.Role r : p.roles().values()) {
      assertEquals("x/" + (5 - r.node()), r.slot().key());
    }
  }

  @Test
  void aLostReplicaCostsNoIterationTheSurvivorsContinueFromMemory() {
    // chunk starting at the commit 4; node 4 (stage 2) died after step 6
    Plan shrunk = plan(List.of(List.of(0, 1), List.of(2), List.of(3), List.of(5)), 6);
    Roles.Assignment a = assign(shrunk, Set.of(), StageRecovery.CHECKPOINT, 4,
        survivors(FULL, 6, 4));
    assertEquals(6, a.resumeStep());
    assertEquals(6, a.newestStep());
    assertTrue(a.roles().values().stream().allMatch(r -> r.source() == Source.CACHE));
    assertEquals(Set.of(0, 1, 2, 3, 5), a.roles().keySet());
    assertTrue(a.notes().get(0).contains("resuming at step 6"), a.notes().toString());
  }

  @Test
  void aNodeOneStepBehindTakesItsStageFromAReplicaThatHasIt() {
    List<SlotStatus> slots = survivors(FULL, 6);
    slots.set(4, holding("e4", 0, 4, 2, 5)); // node 4 missed the last scalar exchange
    Roles.Assignment a = assign(FULL, Set.of(), StageRecovery.CHECKPOINT, 4, slots);
    assertEquals(6, a.resumeStep());
    Roles.Role r4 = a.roles().get(4);
    assertEquals(Source.REPLICA, r4.source());
    assertEquals(3, r4.donor());
    assertEquals(Map.of(2, 3), a.donors());
    assertTrue(a.needsBarrier() && a.fromSnapshots());
  }

  @Test
  void aLostStageIsRebuiltFromItsNeighboursWeightedByTheirGradientNorms() {
    // stage 1 (node 2) lost at step 6; node 4 of stage 2 takes it over as the new node 6
    Plan p = plan(List.of(List.of(0, 1), List.of(6), List.of(3), List.of(5)), 7);
    List<SlotStatus> slots = survivors(FULL, 6, 2);
    Roles.Assignment a = assign(p, Set.of(1), StageRecovery.NEIGHBOURS, 4, slots);
    assertEquals(6, a.resumeStep(), "neighbours: no stage rolls back");
    Roles.Role r = a.roles().get(6);
    assertEquals(Source.NEIGHBOURS, r.source());
    assertEquals("e4/0", r.slot().key(), "the moved node keeps its slot");
    assertEquals(0, r.neighbours().lower());
    assertEquals(2, r.neighbours().upper());
    // norms [0.5, 2.0, 1.0, 0.25]: a = |g2| + eps, b = |g0| + eps, W = (a W2 + b W0) / (a + b)
    double aw = 1.0 + Roles.EPSILON;
    double bw = 0.5 + Roles.EPSILON;
    assertEquals(aw / (aw + bw), r.neighbours().upperWeight(), 1e-15);
    assertEquals(bw / (aw + bw), r.neighbours().lowerWeight(), 1e-15);
    assertEquals(Map.of(0, 0, 2, 3), a.donors(), "the first holder of each neighbour hands it over");
    assertTrue(a.roles().values().stream().filter(x -> x.node() != 6)
        .allMatch(x -> x.source() == Source.CACHE));

    // checkpoint: every stage rolls back to the commit, the taken-over stage from its files
    Roles.Assignment c = assign(p, Set.of(1), StageRecovery.CHECKPOINT, 4, slots);
    assertEquals(4, c.resumeStep());
    assertEquals(6, c.newestStep());
    assertTrue(c.roles().values().stream().allMatch(x -> x.source() == Source.COMMIT));
    assertTrue(c.donors().isEmpty());
    assertTrue(String.join(" ", c.notes()).contains("2 iterations are trained again"),
        c.notes().toString());

    // at the chunk's start the neighbours come from the commit's files, no snapshot
    Roles.Assignment b = assign(p, Set.of(1), StageRecovery.NEIGHBOURS, 6, slots);
    assertEquals(6, b.resumeStep());
    assertEquals(Source.NEIGHBOURS, b.roles().get(6).source());
    assertTrue(b.donors().isEmpty() && !b.fromSnapshots());
  }

  @Test
  void theFirstAndLastStagesAreCopiesOfTheirOnlyNeighbour() {
    // stage 3 (node 5) lost: node 4 becomes node 6 on stage 3
    Plan last = plan(List.of(List.of(0, 1), List.of(2), List.of(3), List.of(6)), 7);
    Roles.Role r = assign(last, Set.of(3), StageRecovery.NEIGHBOURS, 4, survivors(FULL, 6, 5))
        .roles().get(6);
    assertEquals(new Roles.Neighbours(3, 2, -1, 1.0, 0.0), r.neighbours());
    // both data nodes lost: node 4 becomes data node 6
    Plan first = plan(List.of(List.of(6), List.of(2), List.of(3), List.of(5)), 7);
    Roles.Role f = assign(first, Set.of(0), StageRecovery.NEIGHBOURS, 4,
        survivors(FULL, 6, 0, 1)).roles().get(6);
    assertEquals(new Roles.Neighbours(0, -1, 1, 0.0, 1.0), f.neighbours());
  }

  @Test
  void aStageWithNoReplicaAtTheNewestStepRollsEveryoneBackToTheCommit() {
    // node 2 (stage 1) is back on a new executor but lost its memory; nobody else has stage 1
    List<SlotStatus> slots = survivors(FULL, 6, 2);
    slots.add(empty("e9", 0));
    Roles.Assignment a = assign(FULL, Set.of(), StageRecovery.NEIGHBOURS, 4, slots);
    assertEquals(4, a.resumeStep());
    assertEquals(Source.COMMIT, a.roles().get(2).source());
    assertEquals("e9/0", a.roles().get(2).slot().key());
  }
}
