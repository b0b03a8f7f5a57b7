package io.skippipe.job.task.role;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.task.chunk.NodeIterationStats;
import io.skippipe.job.transfer.TcpBlockServer;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor-JVM state of a run, kept between Spark jobs: one {@link Slot} per task slot that a
 * task of the run has used on this executor, each with its block server and (after a chunk) the
 * stage it trained, so a later chunk attempt reuses weights and optimizer state.
 *
 * <p>A task does not know which slot it is (Spark gives it a partition, not a slot), so a task
 * takes any free slot of its executor and creates one (with its block server) when all are busy:
 * a replacement executor, or one that gets more tasks than before, simply grows slots. Which plan
 * node a slot runs is decided after the chunk's rendezvous ({@link Roles}), preferring the node
 * whose stage the slot holds.
 *
 * <p>A cached stage survives a failed chunk attempt unless the failure hit it mid-update ({@link
 * CachedStage#dirty}): then the weights may be half-stepped and the cache is dropped. That is what
 * lets the surviving nodes of a lost executor continue from the last iteration they completed
 * instead of the last commit.
 */
public final class ExecutorSlots {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorSlots.class);
  private static final Map<String, List<Slot>> BY_RUN = new ConcurrentHashMap<>();

  private ExecutorSlots() {}

  /** One task slot: its block server and cached training state. */
  public static final class Slot {
    private final int index;
    private final TcpBlockServer server;
    private boolean busy;
    private CachedStage cached;

    Slot(int index, TcpBlockServer server) {
      this.index = index;
      this.server = server;
    }

    /** The slot's index in this executor (0, 1, ... in creation order). */
    public int index() {
      return index;
    }

    public TcpBlockServer server() {
      return server;
    }

    /** The stage this slot holds, or null. */
    public synchronized CachedStage cached() {
      return cached;
    }

    /** Replaces the cached stage, closing the previous one unless it is the same. */
    public synchronized void cache(CachedStage c) {
      if (cached != null && cached != c) {
        cached.close();
      }
      cached = c;
    }

    /** Drops (and closes) the cached stage. */
    public synchronized void dropCache() {
      cache(null);
    }
  }

  /**
   * A node's stage kept in the JVM between chunk attempts.
   *
   * <p>{@code step} is the optimizer step the weights are at (iterations completed); {@code
   * stageNorms} the gradient norm of every stage at that step after clipping (from the step's
   * scalar exchange; empty when unknown); {@code carried} the node's reports of the iterations it
   * completed in failed attempts of the current chunk (iteration → stats, span lines, plan hash),
   * handed to the driver with the attempt that finishes the chunk.
   */
  public static final class CachedStage {
    private final int node;
    private final int stage;
    private final StageModel model;
    private final AdamW optimizer;
    private long step;
    private double[] stageNorms;
    private volatile boolean dirty;
    private final TreeMap<Integer, Carried> carried = new TreeMap<>();

    /** One completed iteration of a failed attempt. */
    public record Carried(NodeIterationStats stats, List<String> spanLines, String planHash) {}

    public CachedStage(int node, int stage, long step, double[] stageNorms, StageModel model,
        AdamW optimizer) {
      this.node = node;
      this.stage = stage;
      this.step = step;
      this.stageNorms = stageNorms.clone();
      this.model = model;
      this.optimizer = optimizer;
    }

    public int node() {
      return node;
    }

    public int stage() {
      return stage;
    }

    public synchronized long step() {
      return step;
    }

    public synchronized double[] stageNorms() {
      return stageNorms.clone();
    }

    public StageModel model() {
      return model;
    }

    public AdamW optimizer() {
      return optimizer;
    }

    /** True while the weights are being changed (an optimizer step, a load): not reusable. */
    public boolean dirty() {
      return dirty;
    }

    /** Marks the start of a change of the weights. */
    public void beginUpdate() {
      dirty = true;
    }

    /** Marks a completed optimizer step: the weights are now at {@code newStep}. */
    public synchronized void completed(long newStep, double[] norms, Carried report) {
      step = newStep;
      stageNorms = norms.clone();
      carried.put(report.stats().iteration(), report);
      dirty = false;
    }

    /** The reports of iterations {@code [from, to)} this node completed, ascending. */
    public synchronized List<Carried> carried(long from, long to) {
      return new ArrayList<>(carried.subMap((int) from, (int) to).values());
    }

    /** Forgets the reports of iterations before {@code from} and from {@code to} on. */
    public synchronized void keepCarried(long from, long to) {
      carried.headMap((int) from).clear();
      carried.tailMap((int) to).clear();
    }

    void close() {
      optimizer.close();
      model.close();
    }
  }

  /**
   * Takes a free slot of this executor for the run, creating one (and its block server on
   * {@code cfg}, authenticating with {@code secret}) when every slot is busy.
   */
  public static synchronized Slot acquire(String run, TransferConfig cfg, byte[] secret)
      throws IOException {
    List<Slot> slots = BY_RUN.computeIfAbsent(run, r -> new ArrayList<>());
    for (Slot s : slots) {
      if (!s.busy) {
        s.busy = true;
        return s;
      }
    }
    Slot s = new Slot(slots.size(), new TcpBlockServer(cfg, secret));
    s.busy = true;
    slots.add(s);
    return s;
  }

  public static synchronized void release(Slot s) {
    s.busy = false;
  }

  /** Ends a run in this JVM: closes servers and cached stages. */
  public static synchronized void close(String run) {
    List<Slot> slots = BY_RUN.remove(run);
    if (slots == null) {
      return;
    }
    for (Slot s : slots) {
      try {
        s.dropCache();
      } catch (RuntimeException e) {
        LOG.warn("closing cached stage of slot {}: {}", s.index, e.toString());
      }
      s.server.close();
    }
  }

  /** Runs with slots in this JVM (for tests and the job's shutdown). */
  public static synchronized List<String> runs() {
    return new ArrayList<>(BY_RUN.keySet());
  }
}
