package io.skippipe.job.task;

import java.io.Serializable;

/**
 * Where one task slot's block server listens: the executor, the slot's index inside it (several
 * task slots share one executor JVM in local[N]) and the server's host and port.
 */
public record SlotAddress(String executorId, int slot, String host, int port)
    implements Serializable {
  /** The key that identifies the slot across chunks. */
  public String key() {
    return executorId + "/" + slot;
  }

  /** Encoded for BarrierTaskContext.allGather. */
  public String encode() {
    return executorId + "\t" + slot + "\t" + host + "\t" + port;
  }

  public static SlotAddress decode(String s) {
    String[] p = s.split("\t");
    return new SlotAddress(p[0], Integer.parseInt(p[1]), p[2], Integer.parseInt(p[3]));
  }
}
