package io.skippipe.job.task.peer;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.task.chunk.Sneaky;
import io.skippipe.job.task.role.ExecutorSlots;
import io.skippipe.job.task.role.SlotStatus;
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
 * How the tasks of a barrier stage learn each other: one {@code allGather} (≈1 s; stack-probe §2)
 * of every slot's block-server address (executor id, slot, host, port, certificate fingerprint).
 *
 * <ul>
 *   <li>{@link #gather}: the first call of every chunk attempt, inside the chunk's own barrier job
 *       — the executors that exist now, with the stage each slot holds ({@link SlotStatus}); the
 *       roles follow from it ({@link io.skippipe.job.task.role.Roles}).
 *   <li>{@link #run}: a barrier job of its own, only with network.mode=probe: every slot then
 *       opens a block session and runs the all-pairs {@link NetworkProbe} before the run plans;
 *       node numbers of the measured profile are the slots in {@link #NODE_ORDER}.
 * </ul>
 */
public final class Rendezvous {
  private Rendezvous() {}

  /** Order of the slots = node numbering of a run. */
  public static final Comparator<SlotAddress> NODE_ORDER =
      Comparator.comparing(SlotAddress::executorId).thenComparingInt(SlotAddress::slot);

  /** The gathered slots in node order and, after a probe, each node's row (index = node). */
  public record Result(List<SlotAddress> nodes, List<ProbeRow> probe) {}

  /**
   * The chunk attempt's rendezvous, called first by every task of the attempt (the same number of
   * times on every path): gathers every slot's status; returns them in {@link #NODE_ORDER}.
   */
  public static List<SlotStatus> gather(BarrierTaskContext ctx, SlotStatus me) {
    List<SlotStatus> all = new ArrayList<>();
    for (String s : ctx.allGather(me.encode())) {
      all.add(SlotStatus.decode(s));
    }
    all.sort((a, b) -> NODE_ORDER.compare(a.address(), b.address()));
    return all;
  }

  /** This slot's address as peers reach it. */
  public static SlotAddress address(ExecutorSlots.Slot slot) {
    return new SlotAddress(SparkEnv.get().executorId(), slot.index(),
        slot.server().address().getHostString(), slot.server().address().getPort(),
        slot.server().certSha256());
  }

  /** The host a block server binds: {@code transfer.bindHost}, else the executor's host. */
  public static TransferConfig bound(TransferConfig transfer) {
    return transfer.bindHost().isEmpty()
        ? transfer.withBindHost(SparkEnv.get().blockManager().blockManagerId().host()) : transfer;
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
    ExecutorSlots.Slot slot = ExecutorSlots.acquire(run, bound(transfer), secret);
    try {
      return probeTask(ctx, slot, run, probe);
    } finally {
      ExecutorSlots.release(slot);
    }
  }

  private static RendezvousRow probeTask(BarrierTaskContext ctx, ExecutorSlots.Slot slot,
      String run, NetworkProbe.Settings probe) throws Exception {
    SlotAddress me = address(slot);
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
