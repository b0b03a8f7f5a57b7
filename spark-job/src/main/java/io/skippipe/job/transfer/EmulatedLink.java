package io.skippipe.job.transfer;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.TimeUnit;

/**
 * A {@link BlockTransport} decorator that makes one machine behave like a geo-distributed network:
 * each message is delivered {@code (latency + bytes/bandwidth) × timeScale} after it is sent.
 *
 * <p>With {@link LinkModel#contention()} each directed link transmits one message at a time: a
 * message starts transmitting when the link is free, occupies it for {@code bytes/bandwidth}, and
 * arrives {@code latency} after its transmission ends, so a burst queues behind itself as on a real
 * link. Without it (the simulator's {@code linkContention=false}) every message starts at once.
 * Different links never share bandwidth (as the planner's cost model assumes). The latency the
 * model gives includes the profile's per-hop overhead (see {@code StageTask.links}).
 * {@code send} returns at once (the message is handed to the link, like a NIC queue); a delivery
 * thread forwards due messages to the wrapped transport, which may still apply backpressure.
 */
public final class EmulatedLink implements BlockTransport {
  private final BlockTransport inner;
  private final LinkModel links;
  private final double timeScale;
  private final Map<Integer, Long> linkFreeAtNanos = new HashMap<>();
  private final DelayQueue<Pending> due = new DelayQueue<>();
  private final Thread delivery;
  private volatile IOException deliveryFailure;
  private volatile boolean closed;
  private long sequence;
  private final java.util.concurrent.atomic.AtomicInteger outstanding =
      new java.util.concurrent.atomic.AtomicInteger();

  private static final class Pending implements Delayed {
    final Block block;
    final long dueNanos;
    final long seq;

    Pending(Block block, long dueNanos, long seq) {
      this.block = block;
      this.dueNanos = dueNanos;
      this.seq = seq;
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(dueNanos - System.nanoTime(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed o) {
      Pending p = (Pending) o;
      int c = Long.compare(dueNanos, p.dueNanos);
      return c != 0 ? c : Long.compare(seq, p.seq);
    }
  }

  public EmulatedLink(BlockTransport inner, LinkModel links, double timeScale) {
    if (timeScale < 0) {
      throw new IllegalArgumentException("timeScale must be >= 0, was " + timeScale);
    }
    this.inner = inner;
    this.links = links;
    this.timeScale = timeScale;
    this.delivery = new Thread(this::deliverLoop, "skippipe-emulated-link-" + inner.node());
    delivery.setDaemon(true);
    delivery.start();
  }

  /** Emulated seconds a message of {@code bytes} spends on the link, before scaling. */
  public static double transferSeconds(LinkModel links, int from, int to, long bytes) {
    return links.latencySeconds(from, to) + bytes / links.bytesPerSecond(from, to);
  }

  @Override
  public int node() {
    return inner.node();
  }

  @Override
  public long run() {
    return inner.run();
  }

  @Override
  public void send(Block block) throws IOException {
    if (deliveryFailure != null) {
      throw deliveryFailure;
    }
    int from = inner.node();
    int to = block.header().to();
    long bytes = block.header().payloadBytes() + block.header().encodedLength() + 7L;
    long now = System.nanoTime();
    long transmitNanos = (long) (bytes / links.bytesPerSecond(from, to) * timeScale * 1e9);
    long latencyNanos = (long) (links.latencySeconds(from, to) * timeScale * 1e9);
    synchronized (this) {
      long start =
          links.contention() ? Math.max(now, linkFreeAtNanos.getOrDefault(to, now)) : now;
      long free = start + transmitNanos;
      linkFreeAtNanos.put(to, free);
      outstanding.incrementAndGet();
      due.put(new Pending(block, free + latencyNanos, sequence++));
    }
  }

  private void deliverLoop() {
    while (!closed) {
      try {
        Pending p = due.poll(50, TimeUnit.MILLISECONDS);
        if (p != null) {
          try {
            inner.send(p.block);
          } finally {
            outstanding.decrementAndGet();
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (IOException e) {
        deliveryFailure = e;
        return;
      }
    }
  }

  @Override
  public Block take(long timeoutMillis) throws IOException, InterruptedException {
    if (deliveryFailure != null) {
      throw deliveryFailure;
    }
    return inner.take(timeoutMillis);
  }

  /** Waits until every message sent so far has been handed to the wrapped transport. */
  public void drain(long timeoutMillis) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (outstanding.get() > 0 && deliveryFailure == null && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    if (deliveryFailure != null) {
      throw deliveryFailure;
    }
  }

  @Override
  public void abort(String reason) {
    inner.abort(reason);
  }

  @Override
  public void close() {
    try {
      drain(5_000);
    } catch (IOException | InterruptedException e) {
      // closing: undelivered messages are moot once the session ends
    }
    closed = true;
    delivery.interrupt();
    inner.close();
  }
}
