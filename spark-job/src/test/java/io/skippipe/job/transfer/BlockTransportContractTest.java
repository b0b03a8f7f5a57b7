package io.skippipe.job.transfer;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.TransferConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The {@link BlockTransport} contract, run against every implementation. */
abstract class BlockTransportContractTest {
  static final long RUN = 42;

  /** Creates {@code n} connected endpoints, nodes 0..n-1, with the given inbox capacity. */
  List<BlockTransport> endpoints(int n, int capacity) throws IOException {
    return endpoints(n, capacity, 120_000, 1L << 30);
  }

  /**
   * Creates {@code n} connected endpoints with the given inbox capacity, send deadline
   * ({@code transfer.writeTimeoutMs}) and buffer bound ({@code transfer.maxBufferedBytes}).
   */
  abstract List<BlockTransport> endpoints(int n, int capacity, long writeTimeoutMillis,
      long maxBufferedBytes) throws IOException;

  @AfterEach
  abstract void tearDown();

  @Test
  void messagesFromOneSenderArriveInOrderAndIntact() throws Exception {
    List<BlockTransport> t = endpoints(2, 8);
    CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
      try {
        for (int i = 0; i < 100; i++) {
          t.get(0).send(Block.ofFloats(BlockType.ACTIVATION, RUN, 0, i, 0, 1,
              new float[] {i, -i, i * 0.5f}));
        }
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    for (int i = 0; i < 100; i++) {
      Block b = t.get(1).take(5_000);
      assertNotNull(b, "message " + i);
      assertEquals(i, b.header().microbatch());
      assertArrayEquals(new float[] {i, -i, i * 0.5f}, b.floats());
    }
    sender.get(5, TimeUnit.SECONDS);
  }

  @Test
  void takeReturnsMessagesFromAnyPeerAndNullOnTimeout() throws Exception {
    List<BlockTransport> t = endpoints(3, 8);
    t.get(0).send(Block.empty(BlockType.DONE, RUN, 0, 7, 0, 2));
    t.get(1).send(Block.empty(BlockType.DONE, RUN, 0, 8, 1, 2));
    List<Integer> froms = new ArrayList<>();
    froms.add(t.get(2).take(5_000).header().from());
    froms.add(t.get(2).take(5_000).header().from());
    froms.sort(null);
    assertEquals(List.of(0, 1), froms);
    assertNull(t.get(2).take(50));
  }

  @Test
  void fullInboxBlocksTheSender() throws Exception {
    List<BlockTransport> t = endpoints(2, 2);
    int total = 4000; // far more than the inbox plus any socket buffers hold at 4 KiB each
    CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
      try {
        for (int i = 0; i < total; i++) {
          t.get(0).send(Block.ofFloats(BlockType.ACTIVATION, RUN, 0, i, 0, 1, new float[1024]));
        }
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    Thread.sleep(300);
    assertFalse(sender.isDone(), "the sender must block while the receiver does not take");
    for (int i = 0; i < total; i++) {
      assertEquals(i, t.get(1).take(5_000).header().microbatch());
    }
    sender.get(10, TimeUnit.SECONDS);
  }

  @Test
  void abortFailsThePeersNamingTheNode() throws Exception {
    List<BlockTransport> t = endpoints(3, 8);
    t.get(1).send(Block.empty(BlockType.DONE, RUN, 0, 0, 1, 0)); // connects 1 -> 0 first
    assertNotNull(t.get(0).take(5_000));
    t.get(1).abort("out of memory in stage 2");
    PeerFailureException e = assertThrows(PeerFailureException.class,
        () -> t.get(0).take(5_000));
    assertEquals(1, e.peer());
    assertTrue(e.getMessage().contains("node 1") && e.getMessage().contains("out of memory"),
        e.getMessage());
  }

  @Test
  void mailboxTimeoutNamesTheAwaitedPeer() throws Exception {
    List<BlockTransport> t = endpoints(2, 8);
    t.get(0).send(Block.empty(BlockType.DONE, RUN, 0, 1, 0, 1));
    Mailbox box = new Mailbox(t.get(1));
    PeerFailureException e = assertThrows(PeerFailureException.class, () -> box.take(
        b -> b.type() == BlockType.ACTIVATION, 200, 0, () -> "ACTIVATION of microbatch 3"));
    assertEquals(0, e.peer());
    assertTrue(e.getMessage().contains("node 0") && e.getMessage().contains("microbatch 3"),
        e.getMessage());
    assertEquals(1, box.pending(), "the unmatched DONE is kept for later");
    assertNotNull(box.poll(b -> b.type() == BlockType.DONE));
  }

  /**
   * Two nodes that each send the other more than inboxes and socket buffers hold, then take what
   * they got, both finish (issue 8: no deadlock when both block sending with full inboxes): an
   * inbox whose own node waits in a send accepts up to maxBufferedBytes more.
   */
  @Test
  void nodesSendingToEachOtherWithFullInboxesBothFinish() throws Exception {
    int blocks = 64;
    int floats = 256 * 1024; // 1 MiB each: 64 MiB each way, beyond loopback's socket buffers
    List<BlockTransport> t = endpoints(2, 1, 60_000, 128L << 20);
    ExecutorService threads = Executors.newFixedThreadPool(2); // the two nodes' threads
    try {
      List<Future<Void>> nodes = new ArrayList<>();
      for (int me = 0; me < 2; me++) {
        int node = me;
        nodes.add(threads.submit(() -> {
          for (int i = 0; i < blocks; i++) {
            float[] v = new float[floats];
            v[0] = node;
            v[floats - 1] = i;
            t.get(node).send(Block.ofFloats(BlockType.ACTIVATION, RUN, 0, i, node, 1 - node, v));
          }
          for (int i = 0; i < blocks; i++) {
            try (Block b = t.get(node).take(5_000)) {
              assertNotNull(b, "node " + node + " block " + i);
              float[] v = b.floats();
              assertEquals(i, b.header().microbatch());
              assertEquals(1 - node, (int) v[0]);
              assertEquals(i, (int) v[floats - 1]);
            }
          }
          return null;
        }));
      }
      for (Future<Void> f : nodes) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }
  }

  /**
   * Issue 8 test (d) on the transfer: a receiver that stops taking fails its sender within the
   * send deadline (transfer.writeTimeoutMs), naming it, instead of blocking the sender forever.
   */
  @Test
  void aReceiverThatStopsTakingFailsItsSenderWithinTheWriteDeadline() throws Exception {
    long deadline = 1_500;
    List<BlockTransport> t = endpoints(2, 2, deadline, 16L << 20);
    long lastOk = System.nanoTime();
    PeerFailureException failure = null;
    for (int i = 0; i < 100_000 && failure == null; i++) { // node 1 never takes
      try {
        t.get(0).send(Block.ofFloats(BlockType.ACTIVATION, RUN, 0, i, 0, 1,
            new float[64 * 1024]));
        lastOk = System.nanoTime();
      } catch (PeerFailureException e) {
        failure = e;
      }
    }
    assertNotNull(failure, "the sender never failed");
    double stalledMs = (System.nanoTime() - lastOk) / 1e6;
    assertEquals(1, failure.peer());
    assertTrue(failure.getMessage().contains("node 1")
        && failure.getMessage().contains("writeTimeoutMs"), failure.getMessage());
    assertTrue(stalledMs >= deadline - 50 && stalledMs < deadline + 3_000,
        "failed " + stalledMs + " ms after the last accepted send; deadline " + deadline + " ms");
  }

  /** Blocks kept for later (early arrivals) are bounded; beyond it the node fails naming who. */
  @Test
  void earlyArrivalsBeyondTheBoundFailNamingTheSender() throws Exception {
    List<BlockTransport> t = endpoints(3, 8);
    for (int i = 0; i < 3; i++) { // 3 x 40 KB of scalars nobody asked for yet
      t.get(2).send(Block.ofFloats(BlockType.SCALARS, RUN, 0, i, 2, 1, new float[10_000]));
    }
    Mailbox box = new Mailbox(t.get(1), 100_000);
    PeerFailureException e = assertThrows(PeerFailureException.class, () -> box.take(
        b -> b.type() == BlockType.ACTIVATION, 5_000, 0, () -> "ACTIVATION of microbatch 0"));
    assertEquals(2, e.peer());
    assertTrue(e.getMessage().contains("maxBufferedBytes") && e.getMessage().contains("node 2"),
        e.getMessage());
  }
}
