package io.skippipe.job.transfer;

import io.skippipe.job.config.TransferConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The {@link BlockTransport} contract on TCP endpoints on loopback, one server each. */
class TcpBlockTransportContractTest extends BlockTransportContractTest {
  final List<TcpBlockServer> servers = new ArrayList<>();
  final List<BlockTransport> sessions = new ArrayList<>();

  @Override
  List<BlockTransport> endpoints(int n, int capacity, long writeTimeoutMillis,
      long maxBufferedBytes) throws IOException {
    TransferConfig cfg = new TransferConfig("127.0.0.1", 0, capacity, 2_000, 10_000, 500, 1 << 24,
        (int) writeTimeoutMillis, maxBufferedBytes, 128, 0, TransferConfig.Encryption.OFF);
    byte[] secret = "contract-test-secret".getBytes();
    Map<Integer, InetSocketAddress> addrs = new HashMap<>();
    for (int i = 0; i < n; i++) {
      TcpBlockServer s = new TcpBlockServer(cfg, secret);
      servers.add(s);
      addrs.put(i, s.address());
    }
    for (int i = 0; i < n; i++) {
      sessions.add(servers.get(i).openSession(RUN, i, addrs));
    }
    return sessions;
  }

  @Override
  void tearDown() {
    sessions.forEach(BlockTransport::close);
    servers.forEach(TcpBlockServer::close);
  }
}
