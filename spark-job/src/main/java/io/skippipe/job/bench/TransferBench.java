package io.skippipe.job.bench;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.transfer.Block;
import io.skippipe.job.transfer.BlockType;
import io.skippipe.job.transfer.TcpBlockServer;
import io.skippipe.job.transfer.TcpBlockTransport;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Loopback throughput of the block transfer (framing, CRC32C, HMAC'd connection, bounded inbox,
 * float encode/decode) against a raw TCP socket moving the same bytes, in one process.
 */
public final class TransferBench {
  private TransferBench() {}

  /** MB/s (1 MB = 1e6 bytes) of the two, and their ratio. */
  public record Result(double blockMBps, double rawSocketMBps, double fraction, long bytes) {}

  public static Result run(int messages, int floatsPerMessage) throws Exception {
    long bytes = (long) messages * floatsPerMessage * 4;
    float[] payload = new float[floatsPerMessage];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = i * 0.5f;
    }
    // block transfer
    TransferConfig cfg = new TransferConfig("127.0.0.1", 0, 16, 5_000, 60_000, 5_000, 1 << 30);
    double blockSeconds;
    try (TcpBlockServer a = new TcpBlockServer(cfg, "bench".getBytes());
        TcpBlockServer b = new TcpBlockServer(cfg, "bench".getBytes())) {
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 1, b.address());
      try (TcpBlockTransport t0 = a.openSession(1, 0, peers);
          TcpBlockTransport t1 = b.openSession(1, 1, peers)) {
        t0.send(Block.ofFloats(BlockType.ACTIVATION, 1, 0, -1, 0, 1, new float[1])); // connect
        t1.take(5_000);
        long start = System.nanoTime();
        CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
          try {
            for (int i = 0; i < messages; i++) {
              t0.send(Block.ofFloats(BlockType.ACTIVATION, 1, 0, i, 0, 1, payload));
            }
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
        for (int i = 0; i < messages; i++) {
          float[] got = t1.take(60_000).floats();
          if (got.length != floatsPerMessage) {
            throw new IllegalStateException("short message");
          }
        }
        sender.join();
        blockSeconds = (System.nanoTime() - start) / 1e9;
      }
    }
    // raw socket
    double rawSeconds;
    byte[] chunk = new byte[floatsPerMessage * 4];
    try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
          OutputStream out = s.getOutputStream();
          for (int i = 0; i < messages; i++) {
            out.write(chunk);
          }
          out.flush();
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      try (Socket s = ss.accept()) {
        long start = System.nanoTime();
        DataInputStream in = new DataInputStream(s.getInputStream());
        byte[] buf = new byte[chunk.length];
        for (int i = 0; i < messages; i++) {
          in.readFully(buf);
        }
        rawSeconds = (System.nanoTime() - start) / 1e9;
      }
      sender.join();
    }
    double block = bytes / 1e6 / blockSeconds;
    double raw = bytes / 1e6 / rawSeconds;
    return new Result(block, raw, block / raw, bytes);
  }
}
