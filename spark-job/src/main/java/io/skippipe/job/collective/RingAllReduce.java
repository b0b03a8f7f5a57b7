package io.skippipe.job.collective;

import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.Mailbox;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * Ring all-reduce of a flat float vector among the replicas of one stage, over the block transfer
 * (Patarasuk and Yuan, "Bandwidth optimal all-reduce algorithms for clusters of workstations", 2009;
 * the reduce-scatter + all-gather form used by Horovod and NCCL).
 *
 * <p>With {@code n} replicas the vector is cut into {@code n} segments. Reduce-scatter: in step
 * {@code s} (0 ≤ s < n−1) replica {@code r} sends segment {@code (r−s) mod n} to its successor and
 * adds the segment {@code (r−s−1) mod n} it receives from its predecessor; afterwards replica
 * {@code r} holds the full sum of segment {@code (r+1) mod n}. All-gather: in step {@code s} it sends
 * segment {@code (r+1−s) mod n} and overwrites segment {@code (r−s) mod n} with what it receives.
 * Each replica sends {@code 2(n−1)/n} of the vector in total, whatever {@code n} is.
 *
 * <p>GRAD_SHARD headers carry the ring step in their {@code microbatch} field; a one-way TCP
 * connection per neighbour keeps the steps in order.
 */
public final class RingAllReduce {
  private RingAllReduce() {}

  /** The element-wise sum over all replicas, in place in {@code data} (also returned). */
  public static float[] sum(Mailbox box, List<Integer> ring, int iteration, float[] data,
      long timeoutMillis) throws IOException, InterruptedException {
    int n = ring.size();
    int me = ring.indexOf(box.transport().node());
    if (me < 0) {
      throw new IllegalArgumentException("node " + box.transport().node() + " is not in the ring "
          + ring);
    }
    if (n == 1) {
      return data;
    }
    int next = ring.get((me + 1) % n);
    int prev = ring.get((me - 1 + n) % n);
    int[] bounds = new int[n + 1];
    for (int i = 0; i <= n; i++) {
      bounds[i] = (int) ((long) data.length * i / n);
    }
    int step = 0;
    for (int s = 0; s < n - 1; s++, step++) {
      int sendSeg = Math.floorMod(me - s, n);
      int recvSeg = Math.floorMod(me - s - 1, n);
      send(box, iteration, step, next, data, bounds[sendSeg], bounds[sendSeg + 1]);
      try (Block b = receive(box, iteration, step, prev, bounds[recvSeg + 1] - bounds[recvSeg],
          timeoutMillis)) {
        FloatBuffer got = b.buffer().asFloatBuffer();
        for (int i = 0, at = bounds[recvSeg]; i < got.limit(); i++) {
          data[at + i] += got.get(i);
        }
      }
    }
    for (int s = 0; s < n - 1; s++, step++) {
      int sendSeg = Math.floorMod(me + 1 - s, n);
      int recvSeg = Math.floorMod(me - s, n);
      send(box, iteration, step, next, data, bounds[sendSeg], bounds[sendSeg + 1]);
      try (Block b = receive(box, iteration, step, prev, bounds[recvSeg + 1] - bounds[recvSeg],
          timeoutMillis)) {
        b.buffer().asFloatBuffer().get(data, bounds[recvSeg], bounds[recvSeg + 1]
            - bounds[recvSeg]);
      }
    }
    return data;
  }

  /** Sends {@code data[from, until)}: one bulk copy into the block's buffer, no other array. */
  private static void send(Mailbox box, int iteration, int step, int to, float[] data, int from,
      int until) throws IOException {
    int me = box.transport().node();
    box.transport().send(Block.ofFloatRange(BlockType.GRAD_SHARD, box.transport().run(),
        iteration, step, me, to, data, from, until - from));
  }

  /** The GRAD_SHARD of {@code step} from {@code from}; the caller closes it. */
  private static Block receive(Mailbox box, int iteration, int step, int from, int length,
      long timeoutMillis) throws IOException, InterruptedException {
    Block b = box.take(x -> x.type() == BlockType.GRAD_SHARD && x.header().iteration() == iteration
            && x.header().microbatch() == step && x.header().from() == from, timeoutMillis, from,
        () -> "GRAD_SHARD step " + step + " of iteration " + iteration + " from node " + from);
    int values = b.header().payloadBytes() / 4;
    if (values != length) {
      b.close();
      throw new IllegalStateException("GRAD_SHARD step " + step + " from node " + from + " has "
          + values + " values, expected " + length + " (replicas disagree on the vector size)");
    }
    return b;
  }
}
