package io.skippipe.job.task.role;

import io.skippipe.job.task.peer.SlotAddress;
import java.io.Serializable;
import java.util.Arrays;

/**
 * What one task slot tells the others at the start of a chunk attempt (the chunk's rendezvous):
 * where its block server listens and which stage it holds in memory.
 *
 * @param address the slot's executor, index, host, port and certificate fingerprint
 * @param node the plan node whose stage the slot holds, or -1 when it holds none
 * @param stage that stage, or -1
 * @param step the optimizer step its weights are at (iterations completed), or -1
 * @param stageNorms every stage's gradient norm at that step after clipping (index = stage; empty
 *     when unknown): the weights of the neighbour recovery
 */
public record SlotStatus(SlotAddress address, int node, int stage, long step,
    double[] stageNorms) implements Serializable {
  public SlotStatus {
    stageNorms = stageNorms.clone();
  }

  /** A slot that holds no stage. */
  public static SlotStatus empty(SlotAddress address) {
    return new SlotStatus(address, -1, -1, -1, new double[0]);
  }

  /** Whether the slot holds a stage at a step of at least {@code fromStep}. */
  public boolean holdsFrom(long fromStep) {
    return node >= 0 && step >= fromStep;
  }

  @Override
  public double[] stageNorms() {
    return stageNorms.clone();
  }

  /** The slot key ({@link SlotAddress#key()}). */
  public String key() {
    return address.key();
  }

  /** Encoded for {@code BarrierTaskContext.allGather}: the address, then tab-separated fields. */
  public String encode() {
    StringBuilder b = new StringBuilder(address.encode());
    b.append('\n').append(node).append('\t').append(stage).append('\t').append(step).append('\t');
    for (int i = 0; i < stageNorms.length; i++) {
      b.append(i == 0 ? "" : ",").append(stageNorms[i]);
    }
    return b.toString();
  }

  /** The inverse of {@link #encode}. */
  public static SlotStatus decode(String s) {
    int nl = s.indexOf('\n');
    if (nl < 0) {
      throw new IllegalArgumentException("not an encoded slot status: " + s);
    }
    String[] p = s.substring(nl + 1).split("\t", -1);
    double[] norms = p[3].isEmpty() ? new double[0]
        : Arrays.stream(p[3].split(",")).mapToDouble(Double::parseDouble).toArray();
    return new SlotStatus(SlotAddress.decode(s.substring(0, nl)), Integer.parseInt(p[0]),
        Integer.parseInt(p[1]), Long.parseLong(p[2]), norms);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SlotStatus x && x.address.equals(address) && x.node == node
        && x.stage == stage && x.step == step && Arrays.equals(x.stageNorms, stageNorms);
  }

  @Override
  public int hashCode() {
    return address.hashCode() * 31 + Long.hashCode(step) * 7 + node;
  }
}
