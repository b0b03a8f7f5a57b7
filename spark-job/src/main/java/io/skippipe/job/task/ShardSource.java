package io.skippipe.job.task;

import io.skippipe.model.data.PackedDataset;
import java.util.List;

/**
 * A data node's microbatches read from its own shard, as a pure function of (iteration, microbatch):
 * the k-th of the node's {@code c} microbatches in iteration {@code i} takes sequences
 * {@code ((i·c + k)·B + j) mod n}, j &lt; B. So the data cursor of a checkpoint is just its
 * iteration, and a resumed run reads exactly what an uninterrupted one would.
 */
public final class ShardSource implements ScheduleFollower.MicrobatchSource {
  private final PackedDataset shard;
  private final List<Integer> ownMicrobatches;
  private final int samplesPerMicrobatch;

  public ShardSource(PackedDataset shard, List<Integer> ownMicrobatches, int samplesPerMicrobatch) {
    if (shard.size() == 0) {
      throw new IllegalArgumentException("empty data shard: prepare more text (each data node needs"
          + " at least one packed sequence)");
    }
    this.shard = shard;
    this.ownMicrobatches = List.copyOf(ownMicrobatches);
    this.samplesPerMicrobatch = samplesPerMicrobatch;
  }

  @Override
  public int[] tokens(int iteration, int microbatch) {
    int k = ownMicrobatches.indexOf(microbatch);
    if (k < 0) {
      throw new IllegalStateException("microbatch " + microbatch + " is not injected here");
    }
    int t1 = shard.seqLen() + 1;
    int[] out = new int[samplesPerMicrobatch * t1];
    long base = ((long) iteration * ownMicrobatches.size() + k) * samplesPerMicrobatch;
    for (int j = 0; j < samplesPerMicrobatch; j++) {
      int[] seq = shard.sequence((int) ((base + j) % shard.size()));
      System.arraycopy(seq, 0, out, j * t1, t1);
    }
    return out;
  }
}
