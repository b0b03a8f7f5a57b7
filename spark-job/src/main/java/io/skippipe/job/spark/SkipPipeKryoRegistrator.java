package io.skippipe.job.spark;

import com.esotericsoftware.kryo.Kryo;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.serializer.KryoRegistrator;

/**
 * Registers the records the job moves through Spark (rendezvous rows, task results) with
 * {@link KryoRecordSerializer}. Enable with {@code spark.kryo.registrator=} this class.
 */
public final class SkipPipeKryoRegistrator implements KryoRegistrator {
  /** Records registered with the record serializer; extended by the job's own records. */
  private static final List<String> RECORDS = new ArrayList<>(List.of(
      "io.skippipe.job.task.peer.SlotAddress",
      "io.skippipe.job.task.peer.RendezvousRow",
      "io.skippipe.job.task.peer.ProbeRow",
      "io.skippipe.job.task.chunk.ChunkResult",
      "io.skippipe.job.task.chunk.NodeIterationStats",
      "io.skippipe.job.task.chunk.MessageTiming",
      "io.skippipe.job.spark.KryoProbe",
      "io.skippipe.job.data.InputFiles$Split",
      "io.skippipe.job.data.PrepStats"));

  @Override
  @SuppressWarnings({"unchecked", "rawtypes"})
  public void registerClasses(Kryo kryo) {
    for (String name : RECORDS) {
      Class<?> c;
      try {
        c = Class.forName(name, true, Thread.currentThread().getContextClassLoader());
      } catch (ClassNotFoundException e) {
        continue; // a record of a later part of the job that this build does not contain
      }
      kryo.register(c, new KryoRecordSerializer(c.asSubclass(Record.class)));
    }
  }
}
