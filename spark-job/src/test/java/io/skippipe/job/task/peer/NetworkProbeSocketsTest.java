package io.skippipe.job.task.peer;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.TcpBlockServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The probe protocol over real TCP block servers on loopback, without Spark: 12 nodes with the
 * default settings finish within the bound, and a peer that never answers fails the probe by name
 * within probeTimeoutMs instead of hanging.
 */
class NetworkProbeSocketsTest {
  static final byte[] SECRET = "probe-secret".getBytes(StandardCharsets.UTF_8);

  static TransferConfig loopback() {
    TransferConfig d = JobConfig.parse(Map.of()).transfer();
    return new TransferConfig("127.0.0.1", 0, d.queueCapacity(), d.connectTimeoutMillis(),
        d.readTimeoutMillis(), d.heartbeatMillis(), d.maxFrameBytes());
  }

  static NetworkProbe.Settings defaults() {
    JobConfig.NetworkSettings n = JobConfig.parse(Map.of()).network();
    return new NetworkProbe.Settings(n.probePings(), n.probePingBytes(), n.probeBytes(),
        n.probeTimeoutMillis());
  }

  @Test
  void twelveNodesWithTheDefaultSettingsMeasureEveryPairWithinTheBound() throws Exception {
    int n = 12;
    List<TcpBlockServer> servers = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      Map<Integer, InetSocketAddress> peers = new HashMap<>();
      for (int i = 0; i < n; i++) {
        servers.add(new TcpBlockServer(loopback(), SECRET));
        peers.put(i, servers.get(i).address());
      }
      long start = System.nanoTime();
      List<Future<ProbeRow>> rows = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int node = i;
        rows.add(pool.submit(() -> {
          try (BlockTransport t = servers.get(node).openSession(42L, node, peers)) {
            return NetworkProbe.measure(t, n, defaults());
          }
        }));
      }
      for (int i = 0; i < n; i++) {
        ProbeRow r = rows.get(i).get(60, TimeUnit.SECONDS);
        assertEquals(i, r.node());
        assertEquals(defaults().bulkBytes(), r.bulkBytes());
        for (int j = 0; j < n; j++) {
          assertEquals(j == i, r.rttMicros()[j] == 0, r.toString());
          assertEquals(j == i, r.bulkMicros()[j] == 0, r.toString());
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("probe of %d nodes, defaults %s, loopback, no Spark: %.2f s%n", n,
          defaults(), seconds);
      assertTrue(seconds < 20, "12-node probe took " + seconds + " s");
    } finally {
      pool.shutdownNow();
      servers.forEach(TcpBlockServer::close);
    }
  }

  @Test
  void aPeerThatNeverAnswersFailsTheProbeNamingIt() throws Exception {
    try (TcpBlockServer a = new TcpBlockServer(loopback(), SECRET);
        TcpBlockServer silent = new TcpBlockServer(loopback(), SECRET)) {
      // the silent server never opens session 7, so its connection is never read from
      Map<Integer, InetSocketAddress> peers = Map.of(0, a.address(), 1, silent.address());
      long start = System.nanoTime();
      try (BlockTransport t = a.openSession(7L, 0, peers)) {
        Exception e = assertThrows(Exception.class,
            () -> NetworkProbe.measure(t, 2, new NetworkProbe.Settings(3, 64, 1024, 1_500)));
        assertTrue(e.getMessage().contains("node 1"), e.getMessage());
      }
      assertTrue((System.nanoTime() - start) / 1e9 < 10, "must fail by the probe timeout");
    }
  }
}
