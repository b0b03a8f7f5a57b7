package io.skippipe.job.task.role;

import io.skippipe.job.task.peer.Rendezvous;
import io.skippipe.job.task.peer.SlotAddress;
import io.skippipe.scheduler.plan.Plan;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Who is who in one chunk attempt: the pure, deterministic function every task of the attempt
 * evaluates on the same inputs (the driver's request and the slots gathered at the chunk's
 * rendezvous), so all of them agree without another message.
 *
 * <h2>Slots to plan nodes</h2>
 * Every live node of the plan gets one gathered slot, in passes over the nodes in ascending id
 * (slots in {@link Rendezvous#NODE_ORDER}): (1) the slot that holds the node's stage from an
 * earlier attempt (survivors keep their role and their weights); (2) the slot the driver prefers
 * for it (its slot key, e.g. the probe's numbering); (3) a free slot on the executor the driver
 * prefers; (4) a free slot holding the node's stage for another node; (5) the first free slot.
 *
 * <h2>Where training resumes</h2>
 * Let {@code c} be the chunk's start (its last commit, or 0) and {@code s*} the newest step a slot
 * holds, at least {@code c}. Training resumes at {@code s*} — no iteration done since the commit is
 * lost — when every node can have its stage at {@code s*}: it holds it ({@link Source#CACHE}), or a
 * node that holds the stage at {@code s*} writes it for it ({@link Source#REPLICA}), or the stage
 * lost every replica and {@code stageRecovery=neighbours} rebuilds it ({@link Source#NEIGHBOURS}).
 * Otherwise — a stage lost with {@code stageRecovery=checkpoint}, or no replica at {@code s*} of a
 * live stage — every node resumes at the commit {@code c}: from its cache when that is at {@code
 * c}, else from the commit's files ({@link Source#COMMIT}), or the initial weights before the first
 * commit ({@link Source#INIT}); with {@code neighbours} a lost stage is still rebuilt, from its
 * neighbours' committed files.
 *
 * <h2>Neighbour recovery (CheckFree, Blagoev et al., arXiv 2506.15461)</h2>
 * A lost stage {@code i} becomes {@code (a·W_up + b·W_low)/(a + b)} layer by layer, with {@code a =
 * ‖g_up‖ + ε}, {@code b = ‖g_low‖ + ε}, ε = 1e-4, where {@code low}/{@code up} are the nearest
 * stages below and above {@code i} that have their weights at the resume step (normally {@code
 * i−1} and {@code i+1}) and ‖g‖ their gradient norms after clipping at the last step; the rebuilt
 * stage starts with a fresh optimizer state. With one neighbour (the last stage, or stage 0) it is
 * that neighbour's copy (CheckFree+'s rule for the ends); stage 0's embedding, final norm and LM
 * head come from the last commit (CheckFree+ keeps them replicated on the neighbour; the commit is
 * our replica of them), or the initial weights before the first commit. Norms unknown (no slot at
 * the resume step) → equal weights, said in the notes.
 */
public final class Roles {
  /** ε of the CheckFree weights. */
  public static final double EPSILON = 1e-4;

  private Roles() {}

  /** {@code spark.skippipe.elastic.stageRecovery}. */
  public enum StageRecovery {
    CHECKPOINT, NEIGHBOURS;

    /** Parses {@code checkpoint | neighbours}. */
    public static StageRecovery parse(String s) {
      return StageRecovery.valueOf(s.toUpperCase(Locale.ROOT));
    }
  }

  /** How a node gets its stage's state at the start of the attempt. */
  public enum Source { CACHE, COMMIT, INIT, REPLICA, NEIGHBOURS }

  /**
   * How a lost stage is rebuilt: stage {@code stage} from the nearest stages {@code lower} and
   * {@code upper} with them (-1 when absent), weighted {@code lowerWeight + upperWeight = 1}.
   */
  public record Neighbours(int stage, int lower, int upper, double lowerWeight,
      double upperWeight) implements Serializable {}

  /**
   * One node's role: its stage, slot and state source; {@code donor} is the node that writes the
   * stage for it ({@link Source#REPLICA}), else -1; {@code neighbours} is set for {@link
   * Source#NEIGHBOURS}.
   */
  public record Role(int node, int stage, SlotStatus slot, Source source, int donor,
      Neighbours neighbours) implements Serializable {}

  /**
   * What the driver fixes for the attempt.
   *
   * @param plan the attempt's plan
   * @param preferred node → slot key ({@code executor/slot}) or executor id the driver prefers
   * @param recover stages that had no live replica before this attempt and have nodes now
   * @param policy {@code elastic.stageRecovery}
   * @param commitStep the chunk's last commit, or -1 before the first
   */
  public record Request(Plan plan, Map<Integer, String> preferred, Set<Integer> recover,
      StageRecovery policy, long commitStep) {}

  /**
   * The attempt's roles.
   *
   * @param resumeStep the step training continues from
   * @param newestStep the newest step any slot held ({@code resumeStep} below it: a rollback of
   *     the difference)
   * @param fromSnapshots whether state moves through snapshots written at {@code resumeStep}
   *     (resumeStep above the chunk start) rather than the commit's files
   * @param roles node → role, ascending
   * @param donors stage → the node that writes the stage's snapshot at {@code resumeStep}
   * @param notes one line per decision worth logging (recoveries, rollbacks)
   */
  public record Assignment(long resumeStep, long newestStep, boolean fromSnapshots,
      Map<Integer, Role> roles,
      Map<Integer, Integer> donors, List<String> notes) implements Serializable {
    /** The role of the node running in slot {@code key}; null when no node runs there. */
    public Role roleOfSlot(String key) {
      for (Role r : roles.values()) {
        if (r.slot().key().equals(key)) {
          return r;
        }
      }
      return null;
    }

    /** Node → block server address of its slot. */
    public Map<Integer, SlotAddress> peers() {
      Map<Integer, SlotAddress> m = new TreeMap<>();
      roles.forEach((n, r) -> m.put(n, r.slot().address()));
      return m;
    }

    /** Whether some node writes a snapshot that others read (one barrier after writing). */
    public boolean needsBarrier() {
      return !donors.isEmpty();
    }
  }

  /**
   * Assigns the attempt's roles (class comment).
   *
   * @throws IllegalStateException when there are not exactly as many slots as live plan nodes
   */
  public static Assignment assign(Request req, List<SlotStatus> gathered) {
    Plan plan = req.plan();
    List<Integer> live = plan.liveNodes();
    if (gathered.size() != live.size()) {
      throw new IllegalStateException("the chunk attempt runs " + gathered.size() + " tasks but"
          + " its plan has " + live.size() + " live nodes " + live);
    }
    List<SlotStatus> slots = new ArrayList<>(gathered);
    slots.sort((x, y) -> Rendezvous.NODE_ORDER.compare(x.address(), y.address()));
    long c0 = Math.max(0, req.commitStep());
    Map<Integer, SlotStatus> slotOf = match(plan, live, req.preferred(), slots, c0);

    long newest = c0;
    for (SlotStatus s : slotOf.values()) {
      if (s.holdsFrom(c0)) {
        newest = Math.max(newest, s.step());
      }
    }
    List<String> notes = new ArrayList<>();
    Assignment a = newest > c0 ? sources(req, slotOf, newest, newest, notes) : null;
    if (a == null) {
      a = sources(req, slotOf, c0, newest, notes);
    }
    return a;
  }

  /** The slot of every live node (passes 1-5 of the class comment). */
  private static Map<Integer, SlotStatus> match(Plan plan, List<Integer> live,
      Map<Integer, String> preferred, List<SlotStatus> slots, long c0) {
    Map<Integer, SlotStatus> slotOf = new TreeMap<>();
    Set<String> used = new HashSet<>();
    for (int pass = 1; pass <= 5; pass++) {
      for (int node : live) {
        if (slotOf.containsKey(node)) {
          continue;
        }
        String pref = preferred.getOrDefault(node, "");
        String prefExecutor = pref.contains("/") ? pref.substring(0, pref.indexOf('/')) : pref;
        int stage = plan.stageOf(node);
        for (SlotStatus s : slots) {
          if (used.contains(s.key())) {
            continue;
          }
          boolean fits = switch (pass) {
            case 1 -> s.holdsFrom(c0) && s.node() == node;
            case 2 -> pref.contains("/") && s.key().equals(pref);
            case 3 -> !prefExecutor.isEmpty() && s.address().executorId().equals(prefExecutor)
                && !holdsLiveNode(s, live, c0, node);
            case 4 -> s.holdsFrom(c0) && s.stage() == stage && !holdsLiveNode(s, live, c0, node);
            default -> !holdsLiveNode(s, live, c0, node);
          };
          if (fits) {
            slotOf.put(node, s);
            used.add(s.key());
            break;
          }
        }
      }
    }
    for (int node : live) { // a slot reserved for a live node that matched nothing else
      if (!slotOf.containsKey(node)) {
        for (SlotStatus s : slots) {
          if (!used.contains(s.key())) {
            slotOf.put(node, s);
            used.add(s.key());
            break;
          }
        }
      }
    }
    return slotOf;
  }

  /** Whether slot {@code s} holds another live node that will claim it in pass 1. */
  private static boolean holdsLiveNode(SlotStatus s, List<Integer> live, long c0, int node) {
    return s.holdsFrom(c0) && s.node() != node && live.contains(s.node());
  }

  /**
   * The roles when resuming at {@code step}; null when some node cannot have its stage at that
   * step (then the caller resumes at the chunk start).
   */
  private static Assignment sources(Request req, Map<Integer, SlotStatus> slotOf, long step,
      long newest, List<String> notes) {
    Plan plan = req.plan();
    long c0 = Math.max(0, req.commitStep());
    boolean atStart = step == c0;
    int stages = plan.stages().size();
    // holders: stage -> nodes whose slot holds that stage at `step` (whatever their new stage)
    Map<Integer, List<Integer>> holders = new TreeMap<>();
    for (Map.Entry<Integer, SlotStatus> e : slotOf.entrySet()) {
      SlotStatus s = e.getValue();
      if (s.holdsFrom(c0) && s.step() == step) {
        holders.computeIfAbsent(s.stage(), k -> new ArrayList<>()).add(e.getKey());
      }
    }
    double[] norms = null;
    for (SlotStatus s : slotOf.values()) {
      if (s.holdsFrom(c0) && s.step() == step && s.stageNorms().length == stages) {
        norms = s.stageNorms();
        break;
      }
    }
    Map<Integer, Role> roles = new TreeMap<>();
    Map<Integer, Integer> donors = new TreeMap<>();
    List<String> local = new ArrayList<>();
    for (Map.Entry<Integer, SlotStatus> e : slotOf.entrySet()) {
      int node = e.getKey();
      SlotStatus s = e.getValue();
      int stage = plan.stageOf(node);
      boolean lost = req.recover().contains(stage);
      Role role;
      if (s.holdsFrom(c0) && s.step() == step && s.stage() == stage && !lost) {
        role = new Role(node, stage, s, Source.CACHE, -1, null);
      } else if (lost && req.policy() == StageRecovery.NEIGHBOURS) {
        Neighbours nb = neighbours(stage, stages, atStart, req, holders, norms, local);
        if (nb == null && !atStart) {
          local.add("stage " + stage + " cannot be rebuilt at step " + step + ": no stage has a"
              + " live replica there");
          notes.addAll(local);
          return null;
        }
        if (nb == null) {
          role = new Role(node, stage, s, req.commitStep() >= 0 ? Source.COMMIT : Source.INIT,
              -1, null);
        } else {
          role = new Role(node, stage, s, Source.NEIGHBOURS, -1, nb);
          if (!atStart) {
            for (int src : new int[] {nb.lower(), nb.upper()}) {
              if (src >= 0) {
                donors.putIfAbsent(src, holders.get(src).get(0));
              }
            }
          }
        }
      } else if (atStart) {
        role = new Role(node, stage, s, req.commitStep() >= 0 ? Source.COMMIT : Source.INIT, -1,
            null);
      } else if (!lost && holders.containsKey(stage)) {
        int donor = holders.get(stage).get(0);
        donors.putIfAbsent(stage, donor);
        role = new Role(node, stage, s, Source.REPLICA, donors.get(stage), null);
      } else {
        local.add(lost ? "stage " + stage + " lost every replica and " + "stageRecovery="
            + req.policy().name().toLowerCase(Locale.ROOT) + " loads it from the last commit"
            : "no node holds stage " + stage + " at step " + step);
        notes.addAll(local);
        notes.add("every stage resumes from the chunk's start, step " + c0
            + (req.commitStep() >= 0 ? " (the last commit)" : " (the initial weights)")
            + ", instead of step " + step + ": " + (step - c0) + " iterations are trained again");
        return null;
      }
      roles.put(node, role);
    }
    if (!atStart) {
      local.add(0, "resuming at step " + step + " from the nodes' memory (the last commit is step "
          + (req.commitStep() < 0 ? "none" : req.commitStep()) + ")");
    }
    notes.addAll(local);
    return new Assignment(step, newest, !atStart && !donors.isEmpty(),
        Collections.unmodifiableMap(roles),
        Collections.unmodifiableMap(donors), List.copyOf(notes));
  }

  /** The neighbour recovery of a lost stage, or null when no stage can serve as a neighbour. */
  private static Neighbours neighbours(int stage, int stages, boolean atStart, Request req,
      Map<Integer, List<Integer>> holders, double[] norms, List<String> notes) {
    int lower = -1;
    int upper = -1;
    for (int s = stage - 1; s >= 0 && lower < 0; s--) {
      if (source(s, atStart, req, holders)) {
        lower = s;
      }
    }
    for (int s = stage + 1; s < stages && upper < 0; s++) {
      if (source(s, atStart, req, holders)) {
        upper = s;
      }
    }
    if (stage == 0) {
      lower = -1; // stage 0: a copy of the stage above (CheckFree+), embedding etc. from commit
    }
    if (lower < 0 && upper < 0) {
      return null;
    }
    double lw;
    double uw;
    if (lower >= 0 && upper >= 0) {
      double a = (norms == null ? 1.0 : norms[upper]) + EPSILON;
      double b = (norms == null ? 1.0 : norms[lower]) + EPSILON;
      uw = a / (a + b);
      lw = b / (a + b);
      notes.add(String.format(Locale.ROOT, "stage %d lost every replica: rebuilt from stages %d"
          + " and %d weighted %.3f / %.3f by %s (CheckFree), fresh optimizer state", stage,
          lower, upper, lw, uw, norms == null ? "equal weights (their gradient norms at this step"
              + " are unknown)" : "their gradient norms"));
    } else {
      lw = lower >= 0 ? 1 : 0;
      uw = upper >= 0 ? 1 : 0;
      notes.add("stage " + stage + " lost every replica: rebuilt as a copy of stage "
          + Math.max(lower, upper) + " (CheckFree+ rule for the first and last stage)"
          + (stage == 0 ? ", embedding, final norm and LM head from "
          + (req.commitStep() >= 0 ? "the last commit" : "the initial weights") : "")
          + ", fresh optimizer state");
    }
    return new Neighbours(stage, lower, upper, lw, uw);
  }

  /** Whether stage {@code s} can give its weights: a holder at the step, or its commit files. */
  private static boolean source(int s, boolean atStart, Request req,
      Map<Integer, List<Integer>> holders) {
    if (req.recover().contains(s)) {
      return false;
    }
    return atStart ? req.commitStep() >= 0 : holders.containsKey(s);
  }
}
