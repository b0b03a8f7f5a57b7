package io.skippipe.job.task;

import io.skippipe.job.config.TransferConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import scala.Function1;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * The rendezvous: one barrier stage in which every task slot starts its block server and the tasks
 * exchange executor id, slot, host and port with a single {@code allGather} (≈1 s; stack-probe §2),
 * the only Spark barrier call of a run. Partition 0 returns the gathered addresses.
 */
public final class Rendezvous {
  private Rendezvous() {}

  /** Runs the rendezvous over {@code slots} barrier tasks; returns every slot's address. */
  public static List<SlotAddress> run(JavaSparkContext jsc, int slots, String run,
      TransferConfig transfer, byte[] secret) {
    RDD<Integer> rdd = jsc.parallelize(IntStream.range(0, slots).boxed().toList(), slots).rdd();
    ClassTag<SlotAddress> tag = ClassTag$.MODULE$.apply(SlotAddress.class);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<SlotAddress>> f =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<SlotAddress>>
            & java.io.Serializable)
            it -> CollectionConverters.asScala(
                Sneaky.call(() -> task(run, transfer, secret)).iterator());
    List<SlotAddress> out = new JavaRDD<>(rdd.barrier().mapPartitions(f, false, tag), tag)
        .collect();
    if (out.size() != slots) {
      throw new IllegalStateException("rendezvous gathered " + out.size() + " of " + slots
          + " slots");
    }
    return out;
  }

  private static List<SlotAddress> task(String run, TransferConfig transfer, byte[] secret)
      throws Exception {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    SparkEnv env = SparkEnv.get();
    String host = transfer.bindHost().isEmpty()
        ? env.blockManager().blockManagerId().host() : transfer.bindHost();
    TransferConfig bound = new TransferConfig(host, transfer.port(), transfer.queueCapacity(),
        transfer.connectTimeoutMillis(), transfer.readTimeoutMillis(),
        transfer.heartbeatMillis(), transfer.maxFrameBytes());
    ExecutorSlots.Slot slot = ExecutorSlots.create(run, bound, secret);
    SlotAddress me = new SlotAddress(env.executorId(), slot.index(),
        slot.server().address().getHostString(), slot.server().address().getPort());
    String[] all = ctx.allGather(me.encode());
    if (ctx.partitionId() != 0) {
      return List.of();
    }
    List<SlotAddress> out = new ArrayList<>();
    for (String s : all) {
      out.add(SlotAddress.decode(s));
    }
    return out;
  }
}
