package io.skippipe.job.transfer;

import java.util.ArrayList;
import java.util.List;

/** The {@link BlockTransport} contract on in-memory endpoints. */
class InMemoryBlockTransportTest extends BlockTransportContractTest {
  @Override
  List<BlockTransport> endpoints(int n, int capacity, long writeTimeoutMillis,
      long maxBufferedBytes) {
    InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(RUN, capacity,
        writeTimeoutMillis, maxBufferedBytes);
    List<BlockTransport> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(net.endpoint(i));
    }
    return out;
  }

  @Override
  void tearDown() {}
}
