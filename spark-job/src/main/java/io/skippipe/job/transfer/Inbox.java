package io.skippipe.job.transfer;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A node's bounded receive queue. Blocks wait for space (backpressure); a peer failure is queued
 * out of band so it is reported even when the queue is full.
 */
final class Inbox {
  private final BlockingQueue<Block> queue;
  private volatile PeerFailureException failure;
  private final Object signal = new Object();
  private volatile boolean closed;

  Inbox(int capacity) {
    queue = new ArrayBlockingQueue<>(capacity);
  }

  /** Queues a block; waits while full (up to the failure of this inbox's session). */
  void put(Block b) throws InterruptedException {
    while (!queue.offer(b, 100, TimeUnit.MILLISECONDS)) {
      if (failure != null || closed) {
        return;
      }
    }
    synchronized (signal) {
      signal.notifyAll();
    }
  }

  /** Records the first failure; {@link #take} then throws it. */
  void fail(PeerFailureException e) {
    if (failure == null) {
      failure = e;
    }
    synchronized (signal) {
      signal.notifyAll();
    }
  }

  Block take(long timeoutMillis) throws PeerFailureException, InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (true) {
      Block b = queue.poll();
      if (b != null) {
        return b; // what a peer sent before failing is still valid and comes first
      }
      if (failure != null) {
        throw failure;
      }
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        return null;
      }
      synchronized (signal) {
        if (queue.isEmpty() && failure == null) {
          signal.wait(Math.min(left, 50));
        }
      }
    }
  }

  /** Stops accepting: pending and future puts are dropped (the session ended). */
  void close() {
    closed = true;
    queue.clear();
  }

  PeerFailureException failure() {
    return failure;
  }

  int size() {
    return queue.size();
  }
}
