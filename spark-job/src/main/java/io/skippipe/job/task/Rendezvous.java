package io.skippipe.job.task;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.transfer.BlockTransport;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * the only Spark barrier call of a run. With network.mode=probe each task then opens a block
 * transfer session and runs the all-pairs {@link NetworkProbe} before it returns.
 *
 * <p>Node numbers are the slots sorted by (executor id, slot), the same order on every task and
 * on the driver.
 */
public final class Rendezvous {
  private Rendezvous() {}

  /** Order of the slots = node numbering of a run. */
  public static final Comparator<SlotAddress> NODE_ORDER =
      Comparator.comparing(SlotAddress::executorId).thenComparingInt(SlotAddress::slot);

  /** The gathered slots in node order and, after a probe, each node's row (index = node). */
  public record Result(List<SlotAddress> nodes, List<ProbeRow> probe) {}

  /** Runs the rendezvous over {@code slots} barrier tasks; returns every slot's address. */
  public static List<SlotAddress> run(JavaSparkContext jsc, int slots, String run,
      TransferConfig transfer, byte[] secret) {
    return run(jsc, slots, run, transfer, secret, null).nodes();
  }

  /**
   * Runs the rendezvous; with {@code probe} non-null every node also measures every other node
   * over the block transfer. Returns the slots in node order and the probe rows (empty without).
   */
  public static Result run(JavaSparkContext jsc, int slots, String run, TransferConfig transfer,
      byte[] secret, NetworkProbe.Settings probe) {
    TransferConfig resolved = transfer.resolve(jsc.master()); // encryption=auto decided here
    RDD<Integer> rdd = jsc.parallelize(IntStream.range(0, slots).boxed().toList(), slots).rdd();
    ClassTag<RendezvousRow> tag = ClassTag$.MODULE$.apply(RendezvousRow.class);
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<RendezvousRow>> f =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<RendezvousRow>>
            & java.io.Serializable)
            it -> CollectionConverters.asScala(
                Sneaky.call(() -> List.of(task(run, resolved, secret, probe))).iterator());
    List<RendezvousRow> out = new JavaRDD<>(rdd.barrier().mapPartitions(f, false, tag), tag)
        .collect();
    if (out.size() != slots) {
      throw new IllegalStateException("rendezvous gathered " + out.size() + " of " + slots
          + " slots");
    }
    List<RendezvousRow> rows = new ArrayList<>(out);
    rows.sort(Comparator.comparing(RendezvousRow::address, NODE_ORDER));
    List<SlotAddress> nodes = rows.stream().map(RendezvousRow::address).toList();
    List<ProbeRow> measured = new ArrayList<>();
    for (int node = 0; probe != null && node < rows.size(); node++) {
      ProbeRow r = rows.get(node).probe();
      if (r == null || r.node() != node) {
        throw new IllegalStateException("probe row of slot " + nodes.get(node).key()
            + " is missing or numbered " + (r == null ? "null" : r.node()) + ", expected " + node);
      }
      measured.add(r);
    }
    return new Result(nodes, measured);
  }

  private static RendezvousRow task(String run, TransferConfig transfer, byte[] secret,
      NetworkProbe.Settings probe) throws Exception {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    SparkEnv env = SparkEnv.get();
    String host = transfer.bindHost().isEmpty()
        ? env.blockManager().blockManagerId().host() : transfer.bindHost();
    ExecutorSlots.Slot slot = ExecutorSlots.create(run, transfer.withBindHost(host), secret);
    SlotAddress me = new SlotAddress(env.executorId(), slot.index(),
        slot.server().address().getHostString(), slot.server().address().getPort(),
        slot.server().certSha256());
    String[] all = ctx.allGather(me.encode());
    if (probe == null) {
      return new RendezvousRow(me, null);
    }
    List<SlotAddress> nodes = new ArrayList<>();
    for (String s : all) {
      nodes.add(SlotAddress.decode(s));
    }
    nodes.sort(NODE_ORDER);
    Map<Integer, InetSocketAddress> peers = new HashMap<>();
    Map<Integer, String> pins = new HashMap<>();
    int self = -1;
    for (int node = 0; node < nodes.size(); node++) {
      SlotAddress a = nodes.get(node);
      peers.put(node, new InetSocketAddress(a.host(), a.port()));
      pins.put(node, a.certSha256());
      if (a.key().equals(me.key())) {
        self = node;
      }
    }
    BlockTransport transport = slot.server().openSession(probeSessionTag(run), self, peers,
        pins);
    try {
      return new RendezvousRow(me, NetworkProbe.measure(transport, nodes.size(), probe));
    } catch (Exception e) {
      transport.abort("network probe failed on node " + self + ": " + e.getMessage());
      throw e;
    } finally {
      transport.close();
    }
  }

  /** The session tag of the probe: distinct from every chunk's (those mix chunk and attempt). */
  static long probeSessionTag(String run) {
    return ((long) ("probe/" + run).hashCode() << 32) ^ 0x9E3779B97F4A7C15L;
  }
}
