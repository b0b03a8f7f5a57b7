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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The {@link BlockTransport} contract, run against every implementation. */
abstract class BlockTransportContractTest {
  static final long RUN = 42;

  /** Creates {@code n} connected endpoints, nodes 0..n-1, with the given inbox capacity. */
  abstract List<BlockTransport> endpoints(int n, int capacity) throws IOException;

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
}
