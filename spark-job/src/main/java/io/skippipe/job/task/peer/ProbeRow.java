package io.skippipe.job.task.peer;

import java.io.Serializable;
import java.util.Arrays;

/**
 * What one node measured in the all-pairs probe: per peer the median ping-pong round trip and the
 * round trip of one bulk message (sent, then a small acknowledgement back). Index = peer node;
 * the node's own entry is 0.
 *
 * @param node the measuring node (its index in the rendezvous order)
 * @param rttMicros median round trip of {@code pings} small messages to each peer
 * @param bulkMicros round trip of one {@code bulkBytes} message to each peer and its small ack
 * @param bulkBytes payload of the bulk message
 */
public record ProbeRow(int node, long[] rttMicros, long[] bulkMicros, int bulkBytes)
    implements Serializable {
  public ProbeRow {
    if (rttMicros.length != bulkMicros.length || node < 0 || node >= rttMicros.length) {
      throw new IllegalStateException("probe row of node " + node + " has " + rttMicros.length
          + " round trips and " + bulkMicros.length + " bulk times");
    }
    rttMicros = rttMicros.clone();
    bulkMicros = bulkMicros.clone();
  }

  @Override
  public long[] rttMicros() {
    return rttMicros.clone();
  }

  @Override
  public long[] bulkMicros() {
    return bulkMicros.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ProbeRow r && node == r.node && bulkBytes == r.bulkBytes
        && Arrays.equals(rttMicros, r.rttMicros) && Arrays.equals(bulkMicros, r.bulkMicros);
  }

  @Override
  public int hashCode() {
    return node * 31 + Arrays.hashCode(rttMicros) * 17 + Arrays.hashCode(bulkMicros);
  }

  @Override
  public String toString() {
    return "ProbeRow[node=" + node + ", rttMicros=" + Arrays.toString(rttMicros)
        + ", bulkMicros=" + Arrays.toString(bulkMicros) + ", bulkBytes=" + bulkBytes + "]";
  }
}
