package io.skippipe.job.transfer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reusable direct buffers for block payloads, one JVM-wide pool.
 *
 * <p>A fresh direct buffer costs a zeroing pass and page faults over its whole size, about as much
 * as moving its bytes over loopback once; reusing buffers of a recent frame avoids both. Payloads
 * below {@link #DIRECT_THRESHOLD} bytes are plain heap buffers (not pooled: copying them is cheap).
 * Larger ones come from power-of-two size classes, most recently released first.
 *
 * <p>Returning a buffer is an optimisation, never an obligation: a buffer that is dropped instead
 * is freed by the garbage collector like any {@link ByteBuffer#allocateDirect} buffer, so a block
 * that is never closed wastes no memory for good. At most {@link #MAX_IDLE_BYTES} wait in the
 * pool; when a returned buffer does not fit, idle buffers of other sizes make room first (the
 * frame sizes of a run rarely change, those of a benchmark do), else it is dropped.
 */
final class BufferPool {
  /** Payloads smaller than this are heap buffers. */
  static final int DIRECT_THRESHOLD = 16 * 1024;
  /** Bytes the pool keeps idle at most. */
  static final long MAX_IDLE_BYTES = 256L << 20;

  static final BufferPool SHARED = new BufferPool(MAX_IDLE_BYTES);

  private final long maxIdleBytes;
  private final ConcurrentHashMap<Integer, ConcurrentLinkedDeque<ByteBuffer>> free =
      new ConcurrentHashMap<>();
  private final AtomicLong idleBytes = new AtomicLong();

  BufferPool(long maxIdleBytes) {
    this.maxIdleBytes = maxIdleBytes;
  }

  /**
   * A little-endian buffer with position 0 and limit {@code bytes}; direct from the pool when
   * {@code bytes >= DIRECT_THRESHOLD}. Its contents are undefined.
   */
  ByteBuffer acquire(int bytes) {
    if (bytes < DIRECT_THRESHOLD) {
      return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
    int capacity = capacityClass(bytes);
    ConcurrentLinkedDeque<ByteBuffer> q = free.get(capacity);
    ByteBuffer b = q == null ? null : q.pollFirst();
    if (b != null) {
      idleBytes.addAndGet(-capacity);
    } else {
      b = ByteBuffer.allocateDirect(capacity);
    }
    b.clear().limit(bytes);
    return b.order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Gives a buffer from {@link #acquire} back; the caller must not touch it afterwards. */
  void release(ByteBuffer b) {
    int capacity = b.capacity();
    if (!b.isDirect() || capacity < DIRECT_THRESHOLD || Integer.bitCount(capacity) != 1) {
      return; // heap, or not one of ours: the garbage collector frees it
    }
    if (capacity > maxIdleBytes) {
      return;
    }
    while (idleBytes.addAndGet(capacity) > maxIdleBytes) {
      idleBytes.addAndGet(-capacity);
      if (!evictOtherThan(capacity)) {
        return; // the budget is full of this size already: drop this one
      }
    }
    free.computeIfAbsent(capacity, c -> new ConcurrentLinkedDeque<>()).addFirst(b);
  }

  /**
   * Drops one idle buffer of another size, the least recently released one of the size that
   * holds the most idle bytes: the sizes in use now win over the sizes of earlier frames.
   */
  private boolean evictOtherThan(int capacity) {
    int victim = -1;
    long most = 0;
    for (var e : free.entrySet()) {
      long bytes = (long) e.getKey() * e.getValue().size();
      if (e.getKey() != capacity && bytes > most) {
        most = bytes;
        victim = e.getKey();
      }
    }
    ByteBuffer dropped = victim < 0 ? null : free.get(victim).pollLast();
    if (dropped == null) {
      return false;
    }
    idleBytes.addAndGet(-dropped.capacity());
    return true;
  }

  /** Bytes waiting in the pool (for tests). */
  long idleBytes() {
    return idleBytes.get();
  }

  /** The pooled capacity for a payload: the next power of two, or the size itself above 1 GiB. */
  static int capacityClass(int bytes) {
    if (bytes > (1 << 30)) {
      return bytes; // not a power of two: never pooled
    }
    return Math.max(DIRECT_THRESHOLD, Integer.highestOneBit(bytes - 1) << 1);
  }
}
