package io.skippipe.job.task;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.transfer.TcpBlockServer;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.stage.StageModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor-JVM state of a run, kept between Spark jobs: one {@link Slot} per task slot the
 * rendezvous saw on this executor, each with its block server and (after a chunk) the stage it
 * trained, so the next chunk reuses weights and optimizer state when its role is unchanged.
 *
 * <p>A task does not know which slot it is (Spark gives it a partition, not a slot), so a chunk
 * task takes any free slot of its executor and runs the node the driver assigned to that slot.
 * This requires as many chunk tasks per executor as rendezvous tasks — true when the job uses every
 * task slot of the cluster (the driver checks nodes == slots).
 */
public final class ExecutorSlots {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorSlots.class);
  private static final Map<String, List<Slot>> BY_RUN = new ConcurrentHashMap<>();

  private ExecutorSlots() {}

  /** One task slot: its block server and cached training state. */
  public static final class Slot {
    final int index;
    final TcpBlockServer server;
    boolean busy;
    /** Cached role: node, stage, plan hash and the step its weights are at; null when none. */
    CachedStage cached;

    Slot(int index, TcpBlockServer server) {
      this.index = index;
      this.server = server;
    }

    public int index() {
      return index;
    }

    public TcpBlockServer server() {
      return server;
    }
  }

  /** Weights and optimizer of a node kept in the JVM between chunks. */
  record CachedStage(int node, int stage, String planHash, long step, StageModel model,
      AdamW optimizer) {
    void close() {
      optimizer.close();
      model.close();
    }
  }

  /** Rendezvous: creates a new slot with its block server (one per rendezvous task). */
  public static synchronized Slot create(String run, TransferConfig cfg, byte[] secret)
      throws IOException {
    List<Slot> slots = BY_RUN.computeIfAbsent(run, r -> new ArrayList<>());
    Slot s = new Slot(slots.size(), new TcpBlockServer(cfg, secret));
    slots.add(s);
    return s;
  }

  /** Chunk: takes a free slot of this executor for the run. */
  public static synchronized Slot acquire(String run) {
    List<Slot> slots = BY_RUN.get(run);
    if (slots == null) {
      throw new IllegalStateException("this executor took part in no rendezvous of run " + run
          + " (did the executor restart? the driver re-runs the rendezvous on retry)");
    }
    for (Slot s : slots) {
      if (!s.busy) {
        s.busy = true;
        return s;
      }
    }
    throw new IllegalStateException("all " + slots.size() + " task slots of this executor are busy"
        + " for run " + run + ": Spark placed more chunk tasks here than at rendezvous; run with"
        + " nodes == total task slots (spark.executor.cores / spark.task.cpus)");
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
        if (s.cached != null) {
          s.cached.close();
        }
      } catch (RuntimeException e) {
        LOG.warn("closing cached stage of slot {}: {}", s.index, e.toString());
      }
      s.server.close();
    }
  }

  /** Runs in this JVM (for tests and the job's shutdown). */
  public static synchronized List<String> runs() {
    return new ArrayList<>(BY_RUN.keySet());
  }
}
