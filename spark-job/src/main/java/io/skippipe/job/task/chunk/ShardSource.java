package io.skippipe.job.task.chunk;

import io.skippipe.job.data.ShardFiles;
import io.skippipe.model.data.SequenceOrder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * A data node's microbatches read from its own shard, as a pure function of (iteration,
 * microbatch), the shard and the seed: the k-th of the node's {@code c} own microbatches in
 * iteration {@code i} takes draws {@code g = (i·c + k)·B + j}, {@code j < B}, of the node's
 * {@link SequenceOrder} (seed = {@code spark.skippipe.seed}, stream = the data node): each epoch
 * of {@code n} draws visits every sequence of the shard once, in an order the seed decides. So a
 * checkpoint needs no data cursor — a resumed run reads exactly what an uninterrupted one would —
 * and changing the seed changes the data order.
 */
public final class ShardSource implements ScheduleFollower.MicrobatchSource {
  private final ShardFiles shard;
  private final List<Integer> ownMicrobatches;
  private final int samplesPerMicrobatch;
  private final SequenceOrder order;

  /**
   * @param shard the data node's shard
   * @param ownMicrobatches the ids of the microbatches this data node injects, in plan order
   * @param samplesPerMicrobatch sequences per microbatch, B
   * @param seed the run's seed
   * @param dataNode the data node (keys its order)
   */
  public ShardSource(ShardFiles shard, List<Integer> ownMicrobatches, int samplesPerMicrobatch,
      long seed, int dataNode) {
    this.shard = shard;
    this.ownMicrobatches = List.copyOf(ownMicrobatches);
    this.samplesPerMicrobatch = samplesPerMicrobatch;
    this.order = new SequenceOrder(seed, dataNode, shard.size());
  }

  /** Opens the shard at {@code uri} (see {@link ShardFiles#open}) and reads it as above. */
  public static ShardSource open(String uri, Configuration conf, int seqLen,
      List<Integer> ownMicrobatches, int samplesPerMicrobatch, long seed, int dataNode)
      throws IOException {
    return new ShardSource(ShardFiles.open(uri, conf, seqLen), ownMicrobatches,
        samplesPerMicrobatch, seed, dataNode);
  }

  /** The shard's sequence indices of microbatch {@code microbatch} in iteration {@code iteration}. */
  public long[] sequences(int iteration, int microbatch) {
    int k = ownMicrobatches.indexOf(microbatch);
    if (k < 0) {
      throw new IllegalStateException("microbatch " + microbatch + " is not injected here");
    }
    long base = ((long) iteration * ownMicrobatches.size() + k) * samplesPerMicrobatch;
    long[] idx = new long[samplesPerMicrobatch];
    for (int j = 0; j < samplesPerMicrobatch; j++) {
      idx[j] = order.sequence(base + j);
    }
    return idx;
  }

  @Override
  public int[] tokens(int iteration, int microbatch) {
    int[] out = new int[samplesPerMicrobatch * (shard.seqLen() + 1)];
    try {
      shard.read(sequences(iteration, microbatch), out);
    } catch (IOException e) {
      throw new UncheckedIOException("reading microbatch " + microbatch + " of iteration "
          + iteration + " from the data shard", e);
    }
    return out;
  }
}
