package io.skippipe.job.transfer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A node's bounded receive queue, shared by every connection into the node.
 *
 * <p>Room: the queue has room while it holds fewer than {@code capacity} blocks — or, while the
 * node's own thread waits in a send, fewer than {@code maxBufferedBytes} bytes. Without room,
 * network readers stop reading (TCP backpressure) and in-process senders wait. The second rule is
 * what keeps two nodes that send to each other from deadlocking: a node blocked in a send cannot
 * take, so refusing its input could only complete a cycle of waits; accepting up to the byte bound
 * lets the peer's send finish, after which the peer takes and this node's send finishes too.
 * Beyond the bound the waits are cut by the send deadline ({@code transfer.writeTimeoutMs}), so
 * no wait is endless.
 *
 * <p>A peer failure is queued out of band so it is reported even when the queue is full.
 */
final class Inbox {
  /** Bytes a queued block is counted for (payload plus a header's worth). */
  static long footprint(Block b) {
    return b.header().payloadBytes() + 64L;
  }

  private final int capacity;
  private final long maxBufferedBytes;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<Block> queue = new ArrayDeque<>();
  private final List<Runnable> paused = new ArrayList<>();
  private long bytes;
  private int sending;
  private PeerFailureException failure;
  private boolean closed;

  Inbox(int capacity, long maxBufferedBytes) {
    this.capacity = capacity;
    this.maxBufferedBytes = maxBufferedBytes;
  }

  /**
   * A network reader's delivery: queues {@code b} at once and says whether the reader may go on
   * reading; when not, {@code resume} runs once the queue has room again.
   */
  boolean offer(Block b, Runnable resume) {
    lock.lock();
    try {
      if (closed) {
        b.close(); // the session ended: late blocks are moot
        return true;
      }
      queue.add(b);
      bytes += footprint(b);
      changed.signalAll();
      if (hasRoom()) {
        return true;
      }
      paused.add(resume);
      return false;
    } finally {
      lock.unlock();
    }
  }

  /**
   * An in-process sender's delivery: waits up to {@code timeoutNanos} for room; false when none
   * came. Blocks for a closed or failed inbox are dropped (its session is over).
   */
  boolean put(Block b, long timeoutNanos) throws InterruptedException {
    lock.lock();
    try {
      long left = timeoutNanos;
      while (!closed && failure == null && !hasRoom()) {
        if (left <= 0) {
          return false;
        }
        left = changed.awaitNanos(left);
      }
      if (closed || failure != null) {
        b.close();
        return true;
      }
      queue.add(b);
      bytes += footprint(b);
      changed.signalAll();
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Records the first failure; {@link #take} then throws it. */
  void fail(PeerFailureException e) {
    lock.lock();
    try {
      if (failure == null) {
        failure = e;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * The next block, or null after {@code timeoutMillis}; blocks queued before a failure come
   * first (what a peer sent before failing is still valid).
   */
  Block take(long timeoutMillis) throws PeerFailureException, InterruptedException {
    List<Runnable> resume = null;
    Block b;
    lock.lock();
    try {
      long left = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
      while ((b = queue.poll()) == null) {
        if (failure != null) {
          throw failure;
        }
        if (left <= 0) {
          return null;
        }
        left = changed.awaitNanos(left);
      }
      bytes -= footprint(b);
      resume = roomRegained();
    } finally {
      lock.unlock();
    }
    resume.forEach(Runnable::run);
    return b;
  }

  /** The owning node's thread starts a send: the queue may grow to the byte bound meanwhile. */
  void beginSend() {
    List<Runnable> resume;
    lock.lock();
    try {
      sending++;
      resume = roomRegained();
    } finally {
      lock.unlock();
    }
    resume.forEach(Runnable::run);
  }

  /** The send started by {@link #beginSend} ended. */
  void endSend() {
    lock.lock();
    try {
      sending--;
    } finally {
      lock.unlock();
    }
  }

  /** Stops accepting: queued and later blocks are dropped (the session ended). */
  void close() {
    List<Runnable> resume;
    lock.lock();
    try {
      closed = true;
      queue.forEach(Block::close);
      queue.clear();
      bytes = 0;
      resume = new ArrayList<>(paused);
      paused.clear();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    resume.forEach(Runnable::run);
  }

  int size() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  /** Call with the lock held: wakes waiters and hands back the paused readers when room came. */
  private List<Runnable> roomRegained() {
    changed.signalAll();
    if (paused.isEmpty() || !hasRoom()) {
      return List.of();
    }
    List<Runnable> r = new ArrayList<>(paused);
    paused.clear();
    return r;
  }

  private boolean hasRoom() {
    return queue.size() < capacity || sending > 0 && bytes < maxBufferedBytes;
  }
}
