package io.skippipe.job.task.peer;

import java.io.Serializable;

/**
 * Where one task slot's block server listens: the executor, the slot's index inside it (several
 * task slots share one executor JVM in local[N]), the server's host and port, and the SHA-256
 * fingerprint of its TLS certificate that peers pin (empty without transfer encryption).
 */
public record SlotAddress(String executorId, int slot, String host, int port, String certSha256)
    implements Serializable {
  /** A slot without a certificate (encryption off). */
  public SlotAddress(String executorId, int slot, String host, int port) {
    this(executorId, slot, host, port, "");
  }

  /** The key that identifies the slot across chunks. */
  public String key() {
    return executorId + "/" + slot;
  }

  /** Encoded for BarrierTaskContext.allGather. */
  public String encode() {
    return executorId + "\t" + slot + "\t" + host + "\t" + port + "\t" + certSha256;
  }

  public static SlotAddress decode(String s) {
    String[] p = s.split("\t", -1);
    return new SlotAddress(p[0], Integer.parseInt(p[1]), p[2], Integer.parseInt(p[3]),
        p.length > 4 ? p[4] : "");
  }
}
