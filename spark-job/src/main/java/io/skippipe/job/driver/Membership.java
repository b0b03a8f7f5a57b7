package io.skippipe.job.driver;

import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlanningException;
import io.skippipe.scheduler.profile.Node;
import io.skippipe.scheduler.replan.Replanner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The driver's view of who trains: which executor slot runs each plan node, and the plan of each
 * chunk attempt on the executors registered now (issue 8, items 1–3).
 *
 * <p>{@link #next} at the start of every attempt: a node whose executor is gone is lost; nodes the
 * run has not placed yet take free slots (data nodes first, then one replica per stage); free slots
 * left over grow the plan back towards its full size, each new node standing where a lost one
 * stood (its location, speed and memory, its data shard when it becomes a data node). When the
 * node set changed, the {@link Replanner} re-plans: survivors keep their stages (weight movement is
 * a term of its objective), a replica that is gone leaves its stage's data-parallel group. A stage
 * left with no replica takes the last-listed replica of the non-data stage with the most replicas
 * (at least two), as a new node id on that slot, and is recovered by {@code
 * elastic.stageRecovery}; with no replica to spare it stays empty and every path skips it until an
 * executor comes. Every plan passes the independent validator.
 */
final class Membership {
  private final JobConfig cfg;
  private final int capacity;
  private Plan plan;
  private String json;
  private String hash;
  /** node → executor slot ("exec/slot") where it last ran, or executor id where it should run. */
  private final Map<Integer, String> slotOf = new TreeMap<>();
  /** node → the node of the first plan it stands for. */
  private final Map<Integer, Integer> origin = new TreeMap<>();
  /** data node → shard. */
  private final Map<Integer, String> shards = new TreeMap<>();
  /** Every shard of the run, by the first plan's data node. */
  private final List<String> shardPool = new ArrayList<>();
  private String reason = "start";

  /** The plan of one attempt and what its tasks need besides it. */
  record Attempt(Plan plan, String json, String hash, Map<Integer, String> preferred,
      Set<Integer> recover, Map<Integer, Integer> origin, Map<Integer, String> shards,
      List<String> log, String reason) {}

  /**
   * @param preferred node → slot key of the first plan's nodes, when known (the probe's slots)
   * @param shards data node of the first plan → its shard
   */
  Membership(JobConfig cfg, Plan first, String json, String hash, Map<Integer, String> preferred,
      Map<Integer, String> shards) {
    this.cfg = cfg;
    this.capacity = first.liveNodes().size();
    this.plan = first;
    this.json = json;
    this.hash = hash;
    slotOf.putAll(preferred);
    for (Node x : first.cluster().nodes()) {
      origin.put(x.id(), x.id());
    }
    this.shards.putAll(shards);
    new TreeMap<>(shards).values().forEach(shardPool::add);
  }

  Plan plan() {
    return plan;
  }

  String hash() {
    return hash;
  }

  /** The full node count the run grows back to. */
  int capacity() {
    return capacity;
  }

  /**
   * The plan for an attempt on {@code roster}.
   *
   * @throws InsufficientNodesException when fewer than {@code elastic.minNodes} nodes can train,
   *     or the survivors cannot carry a plan
   */
  Attempt next(List<ExecutorRoster.Executor> roster) {
    Map<String, Integer> free = new LinkedHashMap<>();
    roster.forEach(e -> free.put(e.id(), e.slots()));
    List<Integer> survivors = new ArrayList<>();
    List<Integer> lost = new ArrayList<>();
    List<Integer> unplaced = new ArrayList<>();
    for (int n : plan.liveNodes()) {
      String s = slotOf.get(n);
      if (s == null) {
        unplaced.add(n);
      } else if (free.getOrDefault(executor(s), 0) > 0) {
        survivors.add(n);
        free.merge(executor(s), -1, Integer::sum);
      } else {
        lost.add(n);
      }
    }
    unplaced.sort(placementOrder(survivors));
    for (int n : unplaced) {
      String e = freeExecutor(free);
      if (e == null) {
        lost.add(n);
      } else {
        slotOf.put(n, e);
        survivors.add(n);
        free.merge(e, -1, Integer::sum);
      }
    }
    List<String> log = new ArrayList<>();
    Map<Integer, Node> added = growth(survivors, free);
    if (lost.isEmpty() && added.isEmpty()) {
      check(survivors.size(), roster);
      return attempt(Set.of(), log, reason);
    }
    lost.sort(Integer::compare);
    Plan before = plan;
    String beforeHash = hash;
    Set<Integer> live = new TreeSet<>(survivors);
    Map<Integer, String> addedSlot = new TreeMap<>();
    Map<Integer, Integer> addedOrigin = new TreeMap<>();
    List<Node> newNodes = new ArrayList<>();
    for (Map.Entry<Integer, Node> e : added.entrySet()) {
      int id = before.nodeCount() + newNodes.size();
      newNodes.add(e.getValue());
      addedOrigin.put(id, e.getKey());
      addedSlot.put(id, freeExecutorTake(free));
    }
    List<Integer> joined = new ArrayList<>(addedOrigin.keySet());
    List<String> moved = new ArrayList<>();
    Replanner.Replan r;
    try {
      r = Replanner.replan(before, live, newNodes, settings());
      // a stage that lost every replica takes one from the fullest non-data stage
      for (int guard = 0; guard < before.stages().size() && !r.skippedStages().isEmpty();
          guard++) {
        int donor = spareReplica(r.plan());
        if (donor < 0) {
          break;
        }
        int id = before.nodeCount() + newNodes.size();
        Node d = r.plan().cluster().nodes().get(donor);
        newNodes.add(new Node(0, d.location(), d.speed(), d.memoryMicrobatches()));
        live.remove(donor);
        addedOrigin.put(id, origin.getOrDefault(donor, donor));
        addedSlot.put(id, slotOf.get(donor));
        moved.add("node " + donor + " (stage " + r.plan().stageOf(donor) + ") becomes node " + id);
        r = Replanner.replan(before, live, newNodes, settings());
      }
    } catch (PlanningException e) {
      throw new InsufficientNodesException("the " + survivors.size() + " nodes left "
          + survivors + " cannot carry a plan: " + e.getMessage(), e);
    }
    JobPlanning.Validated v = JobPlanning.validate(r.plan(), ConfigKeys.ELASTIC_MIN_NODES.name(),
        "the re-plan of chunk attempt");
    plan = v.plan();
    json = PlanCodec.toJsonString(plan);
    hash = JobPlanning.sha256(json);
    for (int n : lost) {
      slotOf.remove(n);
    }
    slotOf.putAll(addedSlot);
    origin.putAll(addedOrigin);
    assignShards();
    check(plan.liveNodes().size(), roster);
    Set<Integer> recover = recovered(before, survivors, plan);
    List<String> why = new ArrayList<>();
    if (!lost.isEmpty()) {
      why.add("executors lost: nodes " + lost);
    }
    if (!joined.isEmpty()) {
      why.add("executors joined: nodes " + joined);
    }
    if (!recover.isEmpty()) {
      why.add("stages " + recover + " had no replica, recovered by "
          + ConfigKeys.ELASTIC_STAGE_RECOVERY.name() + "=" + cfg.elastic().stageRecovery()
          + (moved.isEmpty() ? "" : " (" + String.join(", ", moved) + ")"));
    }
    if (!plan.skippedStages().isEmpty()) {
      why.add("stages " + plan.skippedStages() + " have no replica: paths skip them");
    }
    reason = String.join("; ", why);
    log.add(String.format(java.util.Locale.ROOT, "re-plan %s -> %s (%s): %d live nodes of %d,"
            + " stages %s%s; predicted iteration %.3f -> %.3f s (simulator), weight movement"
            + " %.3f s", beforeHash.substring(0, 12), hash.substring(0, 12), reason,
        plan.liveNodes().size(), capacity, plan.stages(), plan.skippedStages().isEmpty() ? ""
            : ", skipped stages " + plan.skippedStages() + " (every path skips them until an"
            + " executor is free)", before.iterationSeconds(), plan.iterationSeconds(),
        r.movementSeconds()));
    return attempt(recover, log, reason);
  }

  /** Records where the nodes of a completed attempt ran. */
  void ran(List<ChunkResult> results) {
    for (ChunkResult r : results) {
      slotOf.put(r.node(), r.slotKey());
    }
  }

  /** Replaces the plan at a chunk boundary (adaptive re-planning on measured links). */
  void adopt(Plan p, String why) {
    plan = p;
    json = PlanCodec.toJsonString(p);
    hash = JobPlanning.sha256(json);
    reason = why;
  }

  /** Node → executor slot of the last completed attempt. */
  Map<Integer, String> slots() {
    return Map.copyOf(slotOf);
  }

  /** The reason the current plan was made. */
  String reason() {
    return reason;
  }

  private Attempt attempt(Set<Integer> recover, List<String> log, String why) {
    Map<Integer, String> preferred = new TreeMap<>();
    for (int n : plan.liveNodes()) {
      preferred.put(n, slotOf.getOrDefault(n, ""));
    }
    return new Attempt(plan, json, hash, preferred, recover, Map.copyOf(origin),
        Map.copyOf(shards), log, why);
  }

  private void check(int nodes, List<ExecutorRoster.Executor> roster) {
    if (nodes < cfg.elastic().minNodes()) {
      throw new InsufficientNodesException(nodes + " nodes can train on the registered executors "
          + roster + ", fewer than " + ConfigKeys.ELASTIC_MIN_NODES.name() + "="
          + cfg.elastic().minNodes());
    }
  }

  private Replanner.Settings settings() {
    return new Replanner.Settings(Math.max(1, cfg.train().chunkIterations()),
        Replanner.Settings.defaults().evaluations(), cfg.seed());
  }

  /** Data nodes first, then nodes of stages without a placed replica, then by id. */
  private Comparator<Integer> placementOrder(List<Integer> placed) {
    Set<Integer> covered = new HashSet<>();
    placed.forEach(n -> covered.add(plan.stageOf(n)));
    return Comparator.comparingInt((Integer n) -> plan.stageOf(n) == 0 ? 0
        : covered.contains(plan.stageOf(n)) ? 2 : 1).thenComparingInt(n -> n);
  }

  /**
   * New nodes for free slots, at most up to the full size: first-plan node (origin) → the node it
   * becomes (location, speed and memory of the most recent node that stood there).
   */
  private Map<Integer, Node> growth(List<Integer> survivors, Map<String, Integer> free) {
    int spare = free.values().stream().mapToInt(Integer::intValue).sum();
    int room = capacity - survivors.size();
    Set<Integer> standing = new HashSet<>();
    survivors.forEach(n -> standing.add(origin.getOrDefault(n, n)));
    Map<Integer, Node> out = new TreeMap<>();
    Map<Integer, Node> latest = new TreeMap<>();
    for (Node x : plan.cluster().nodes()) {
      latest.put(origin.getOrDefault(x.id(), x.id()), x);
    }
    for (Map.Entry<Integer, Node> e : latest.entrySet()) {
      if (out.size() >= Math.min(spare, room)) {
        break;
      }
      if (!standing.contains(e.getKey())) {
        Node x = e.getValue();
        out.put(e.getKey(), new Node(0, x.location(), x.speed(), x.memoryMicrobatches()));
      }
    }
    return out;
  }

  /** The last-listed replica of the non-data stage with the most live replicas (≥ 2), or -1. */
  private static int spareReplica(Plan p) {
    int best = -1;
    for (int s = 1; s < p.stages().size(); s++) {
      if (p.stages().get(s).size() >= 2
          && (best < 0 || p.stages().get(s).size() > p.stages().get(best).size())) {
        best = s;
      }
    }
    if (best < 0) {
      return -1;
    }
    List<Integer> st = p.stages().get(best);
    return st.get(st.size() - 1);
  }

  /**
   * Stages of {@code after} that no surviving node held in {@code before}: their weights are gone
   * (a survivor the re-plan moved to another stage still holds, and hands over, its old stage).
   */
  private static Set<Integer> recovered(Plan before, List<Integer> survivors, Plan after) {
    Set<Integer> held = new HashSet<>();
    survivors.forEach(n -> held.add(before.stageOf(n)));
    Set<Integer> out = new TreeSet<>();
    for (int s = 0; s < after.stages().size(); s++) {
      if (!after.stages().get(s).isEmpty() && !held.contains(s)) {
        out.add(s);
      }
    }
    return out;
  }

  /** Every data node of the plan gets a shard: its own, else one no live data node reads. */
  private void assignShards() {
    Map<Integer, String> kept = new TreeMap<>();
    Set<String> used = new HashSet<>();
    for (int d : plan.dataNodes()) {
      String s = shards.get(d);
      if (s != null) {
        kept.put(d, s);
        used.add(s);
      }
    }
    for (int d : plan.dataNodes()) {
      if (!kept.containsKey(d)) {
        String s = shardPool.stream().filter(x -> !used.contains(x)).findFirst()
            .orElseThrow(() -> new IllegalStateException("data node " + d + " has no shard: the"
                + " run prepared " + shardPool.size() + " shards"));
        kept.put(d, s);
        used.add(s);
      }
    }
    shards.clear();
    shards.putAll(kept);
  }

  private static String executor(String slot) {
    int i = slot.indexOf('/');
    return i < 0 ? slot : slot.substring(0, i);
  }

  private static String freeExecutor(Map<String, Integer> free) {
    for (Map.Entry<String, Integer> e : free.entrySet()) {
      if (e.getValue() > 0) {
        return e.getKey();
      }
    }
    return null;
  }

  private static String freeExecutorTake(Map<String, Integer> free) {
    String e = freeExecutor(free);
    if (e != null) {
      free.merge(e, -1, Integer::sum);
    }
    return e == null ? "" : e;
  }

  /** Fewer nodes than the run may train on, or none that can carry a plan. */
  static final class InsufficientNodesException extends RuntimeException {
    InsufficientNodesException(String message) {
      super(message);
    }

    InsufficientNodesException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
