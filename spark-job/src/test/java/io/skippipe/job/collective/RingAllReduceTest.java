package io.skippipe.job.collective;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.transfer.BlockTransport;
import io.skippipe.job.transfer.InMemoryBlockTransport;
import io.skippipe.job.transfer.Mailbox;
import io.skippipe.job.transfer.TcpBlockServer;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Ring all-reduce against a plain double-precision sum; every replica gets the same bits. */
class RingAllReduceTest {
  @ParameterizedTest(name = "{0} replicas, {1} values, tcp={2}")
  @CsvSource({"1,10,false", "2,7,false", "3,1000,false", "4,3,false", "4,1001,false",
      "2,513,true", "3,10000,true", "4,77,true"})
  void sumEqualsAPlainSumOnEveryReplica(int n, int length, boolean tcp) throws Exception {
    Random random = new Random(n * 1000L + length);
    float[][] x = new float[n][length];
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < length; i++) {
        x[r][i] = (float) random.nextGaussian();
      }
    }
    double[] expectedSum = new double[length];
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < length; i++) {
        expectedSum[i] += x[r][i];
      }
    }
    // ring order deliberately not sorted, node ids not 0..n-1
    List<Integer> ring = new ArrayList<>();
    for (int r = 0; r < n; r++) {
      ring.add(10 + 2 * (n - 1 - r));
    }
    List<BlockTransport> endpoints = new ArrayList<>();
    List<TcpBlockServer> servers = new ArrayList<>();
    if (tcp) {
      Map<Integer, InetSocketAddress> addrs = new HashMap<>();
      for (int r = 0; r < n; r++) {
        servers.add(new TcpBlockServer(TransferConfig.loopback(), "s".getBytes()));
        addrs.put(ring.get(r), servers.get(r).address());
      }
      for (int r = 0; r < n; r++) {
        endpoints.add(servers.get(r).openSession(5, ring.get(r), addrs));
      }
    } else {
      InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(5, 4);
      for (int r = 0; r < n; r++) {
        endpoints.add(net.endpoint(ring.get(r)));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<float[]>> results = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        int rr = r;
        results.add(pool.submit(() -> RingAllReduce.sum(new Mailbox(endpoints.get(rr)), ring, 4,
            x[rr].clone(), 10_000)));
      }
      float[] first = results.get(0).get();
      for (int r = 0; r < n; r++) {
        float[] got = results.get(r).get();
        for (int i = 0; i < length; i++) {
          assertEquals(expectedSum[i], got[i], 1e-5, "replica " + r + " sum[" + i + "]");
        }
        assertArrayEquals(first, got, "replica " + r + " holds other bits than replica 0");
      }
    } finally {
      pool.shutdownNow();
      endpoints.forEach(BlockTransport::close);
      servers.forEach(TcpBlockServer::close);
    }
  }
}
