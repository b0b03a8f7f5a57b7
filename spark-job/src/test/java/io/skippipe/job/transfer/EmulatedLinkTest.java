package io.skippipe.job.transfer;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class EmulatedLinkTest {
  @Test
  void delaysByLatencyPlusBytesOverBandwidthScaled() throws Exception {
    InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(1, 64);
    // 40 ms latency, 1 MB/s; a 40,000-byte payload = 40 ms on the wire; scale 2 -> ~160 ms total
    LinkModel links = LinkModel.uniform(0.040, 1e6);
    try (EmulatedLink a = new EmulatedLink(net.endpoint(0), links, 2.0)) {
      BlockTransport b = net.endpoint(1);
      long start = System.nanoTime();
      a.send(Block.ofFloats(BlockType.ACTIVATION, 1, 0, 0, 0, 1, new float[10_000]));
      Block got = b.take(5_000);
      double ms = (System.nanoTime() - start) / 1e6;
      assertNotNull(got);
      double expected = 2.0 * EmulatedLink.transferSeconds(links, 0, 1, 40_000) * 1e3;
      assertTrue(ms >= expected - 1 && ms < expected + 150, "took " + ms + " ms, expected ~" + expected);
    }
  }

  @Test
  void aBurstQueuesOnTheLinkInOrder() throws Exception {
    InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(1, 64);
    LinkModel links = LinkModel.uniform(0.010, 1e6); // 20,000-byte message = 20 ms transmit
    try (EmulatedLink a = new EmulatedLink(net.endpoint(0), links, 1.0)) {
      BlockTransport b = net.endpoint(1);
      long start = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        a.send(Block.ofFloats(BlockType.ACTIVATION, 1, 0, i, 0, 1, new float[5_000]));
      }
      for (int i = 0; i < 5; i++) {
        assertEquals(i, b.take(5_000).header().microbatch());
      }
      double ms = (System.nanoTime() - start) / 1e6;
      // 5 transmissions back to back (5 x ~20 ms) + one latency (10 ms) = ~110 ms
      assertTrue(ms >= 105 && ms < 300, "took " + ms + " ms");
    }
  }

  @Test
  void withoutContentionABurstTakesOneHopLikeTheSimulator() throws Exception {
    InMemoryBlockTransport.Network net = new InMemoryBlockTransport.Network(1, 64);
    LinkModel uniform = LinkModel.uniform(0.010, 1e6);
    LinkModel links = new LinkModel() {
      @Override
      public double latencySeconds(int from, int to) {
        return uniform.latencySeconds(from, to);
      }

      @Override
      public double bytesPerSecond(int from, int to) {
        return uniform.bytesPerSecond(from, to);
      }

      @Override
      public boolean contention() {
        return false;
      }
    };
    try (EmulatedLink a = new EmulatedLink(net.endpoint(0), links, 1.0)) {
      BlockTransport b = net.endpoint(1);
      long start = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        a.send(Block.ofFloats(BlockType.ACTIVATION, 1, 0, i, 0, 1, new float[5_000]));
      }
      for (int i = 0; i < 5; i++) {
        assertEquals(i, b.take(5_000).header().microbatch());
      }
      double ms = (System.nanoTime() - start) / 1e6;
      // linkContention=false: each message 20 ms transmit + 10 ms latency from its own send, in
      // parallel: ~30 ms, not the ~110 ms of a queued burst
      assertTrue(ms >= 29 && ms < 90, "took " + ms + " ms");
    }
  }

  @Test
  void theProfileLinksAddTheHopOverheadAndCarryLinkContention() {
    io.skippipe.scheduler.profile.ClusterProfile p =
        io.skippipe.scheduler.profile.Presets.cluster("laptop-geo-12");
    io.skippipe.scheduler.profile.ModelSpec m =
        io.skippipe.scheduler.profile.Presets.model("llama-tiny");
    LinkModel links = io.skippipe.job.task.chunk.StageTask.links(p);
    io.skippipe.scheduler.cost.CostModel costs = io.skippipe.scheduler.cost.CostModel.of(p, m);
    assertEquals(p.linkContention(), links.contention());
    for (int x = 0; x < p.size(); x++) {
      for (int y = 0; y < p.size(); y++) {
        if (x != y) {
          // the emulated delay of one modelled activation equals the simulator's hop
          double emulated = EmulatedLink.transferSeconds(links, x, y,
              m.activationBytesPerMicrobatch());
          assertEquals(costs.hopMicros(x, y) / 1e6, emulated, 1e-6, x + "->" + y);
        }
      }
    }
  }
}
