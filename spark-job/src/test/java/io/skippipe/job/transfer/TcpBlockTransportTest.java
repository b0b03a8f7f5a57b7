package io.skippipe.job.transfer;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.TransferConfig;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** TCP-only behaviour: authentication, garbage, dead and silent peers. */
class TcpBlockTransportTest {
  static final TransferConfig CFG = new TransferConfig("127.0.0.1", 0, 16, 1_000, 1_500, 300,
      1 << 20);
  static final byte[] SECRET = "the-run-secret".getBytes();

  @Test
  void unauthenticatedConnectionsAreDroppedWhileTrafficContinues() throws Exception {
    try (TcpBlockServer a = new TcpBlockServer(CFG, SECRET);
        TcpBlockServer b = new TcpBlockServer(CFG, SECRET);
        TcpBlockServer intruder = new TcpBlockServer(CFG, "wrong-secret".getBytes())) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 1, b.address());
      try (TcpBlockTransport t0 = a.openSession(7, 0, peers);
          TcpBlockTransport t1 = b.openSession(7, 1, peers)) {
        t0.send(Block.ofFloats(BlockType.ACTIVATION, 7, 0, 0, 0, 1, new float[] {1}));
        assertEquals(0, t1.take(5_000).header().microbatch());

        // 1. a client with the wrong secret: its connect fails, b counts a rejection
        try (TcpBlockTransport bad = intruder.openSession(7, 0, peers)) {
          PeerFailureException e = assertThrows(PeerFailureException.class,
              () -> bad.send(Block.ofFloats(BlockType.ACTIVATION, 7, 0, 99, 0, 1, new float[1])));
          assertEquals(1, e.peer());
        }
        // 2. garbage bytes
        try (Socket s = new Socket("127.0.0.1", b.address().getPort())) {
          OutputStream out = s.getOutputStream();
          out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
          out.flush();
          assertEquals(-1, readUntilClosed(s), "the server must close the connection");
        }
        // 3. a client that says nothing is dropped after the connect timeout
        try (Socket s = new Socket("127.0.0.1", b.address().getPort())) {
          assertEquals(-1, readUntilClosed(s));
        }
        waitFor(() -> b.rejectedConnections() >= 3);
        assertEquals(3, b.rejectedConnections());

        // authenticated traffic still flows, nothing from the intruder got in
        t0.send(Block.ofFloats(BlockType.ACTIVATION, 7, 0, 1, 0, 1, new float[] {2}));
        Block next = t1.take(5_000);
        assertEquals(1, next.header().microbatch());
        assertArrayEquals(new float[] {2}, next.floats());
        assertNull(t1.take(100));
      }
    }
  }

  private static int readUntilClosed(Socket s) throws Exception {
    s.setSoTimeout(5_000);
    DataInputStream in = new DataInputStream(s.getInputStream());
    int last;
    do {
      last = in.read();
    } while (last != -1);
    return last;
  }

  private static void waitFor(java.util.function.BooleanSupplier cond) throws Exception {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (!cond.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  @Test
  void unreachablePeerFailsTheSendNamingIt() throws Exception {
    int deadPort;
    try (ServerSocket s = new ServerSocket(0)) {
      deadPort = s.getLocalPort();
    }
    try (TcpBlockServer a = new TcpBlockServer(CFG, SECRET)) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 5,
          new InetSocketAddress("127.0.0.1", deadPort));
      try (TcpBlockTransport t0 = a.openSession(1, 0, peers)) {
        PeerFailureException e = assertThrows(PeerFailureException.class,
            () -> t0.send(Block.empty(BlockType.DONE, 1, 0, 0, 0, 5)));
        assertEquals(5, e.peer());
        assertTrue(e.getMessage().contains("node 5") && e.getMessage().contains("" + deadPort),
            e.getMessage());
      }
    }
  }

  @Test
  void peerThatDiesMidSessionIsNamed() throws Exception {
    try (TcpBlockServer a = new TcpBlockServer(CFG, SECRET)) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address());
      a.openSession(3, 0, peers);
      // node 4 speaks the protocol by hand, sends one frame, then vanishes without CLOSE
      try (Socket s = new Socket("127.0.0.1", a.address().getPort())) {
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        Handshake.connect(in, out, SECRET, new Handshake.Hello(3, 4, 0));
        FrameCodec.write(out, Block.empty(BlockType.DONE, 3, 0, 0, 4, 0));
        out.flush();
      }
      TcpBlockTransport t0 = (TcpBlockTransport) openOrCurrent(a);
      assertEquals(4, t0.take(5_000).header().from());
      PeerFailureException e = assertThrows(PeerFailureException.class, () -> t0.take(5_000));
      assertEquals(4, e.peer());
      assertTrue(e.getMessage().contains("node 4"), e.getMessage());
      t0.close();
    }
  }

  @Test
  void silentPeerTimesOutNamingIt() throws Exception {
    try (TcpBlockServer a = new TcpBlockServer(CFG, SECRET)) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address());
      a.openSession(3, 0, peers);
      try (Socket s = new Socket("127.0.0.1", a.address().getPort())) {
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        Handshake.connect(in, out, SECRET, new Handshake.Hello(3, 6, 0));
        // connected and authenticated, then silent (no heartbeats): read timeout is 1.5 s
        TcpBlockTransport t0 = (TcpBlockTransport) openOrCurrent(a);
        PeerFailureException e = assertThrows(PeerFailureException.class, () -> t0.take(5_000));
        assertEquals(6, e.peer());
        assertTrue(e.getMessage().contains("node 6") && e.getMessage().contains("silent"),
            e.getMessage());
        t0.close();
      }
    }
  }

  private static BlockTransport openOrCurrent(TcpBlockServer a) throws Exception {
    java.lang.reflect.Field f = TcpBlockServer.class.getDeclaredField("session");
    f.setAccessible(true);
    return (BlockTransport) f.get(a);
  }

  @Test
  void idleButAliveConnectionsSurviveOnHeartbeats() throws Exception {
    try (TcpBlockServer a = new TcpBlockServer(CFG, SECRET);
        TcpBlockServer b = new TcpBlockServer(CFG, SECRET)) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 1, b.address());
      try (TcpBlockTransport t0 = a.openSession(9, 0, peers);
          TcpBlockTransport t1 = b.openSession(9, 1, peers)) {
        t0.send(Block.empty(BlockType.DONE, 9, 0, 0, 0, 1));
        assertNotNull(t1.take(2_000));
        assertNull(t1.take(2_500), "idle for longer than the 1.5 s read timeout, no failure");
        t0.send(Block.empty(BlockType.DONE, 9, 0, 1, 0, 1));
        assertEquals(1, t1.take(2_000).header().microbatch());
      }
    }
  }
}
