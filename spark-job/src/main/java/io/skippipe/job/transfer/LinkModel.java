package io.skippipe.job.transfer;

/**
 * Latency and bandwidth of the directed link between two nodes, as a cluster profile states them.
 */
public interface LinkModel {
  /** One-way latency in seconds. */
  double latencySeconds(int from, int to);

  /** Bandwidth in bytes per second (> 0). */
  double bytesPerSecond(int from, int to);

  /**
   * Whether a directed link transmits one message at a time (a burst queues behind itself), as
   * the simulator's {@code linkContention}; otherwise every message takes latency + bytes/bandwidth
   * from its own send, however many share the link.
   */
  default boolean contention() {
    return true;
  }

  /** A uniform link (for tests). */
  static LinkModel uniform(double latencySeconds, double bytesPerSecond) {
    return new LinkModel() {
      @Override
      public double latencySeconds(int from, int to) {
        return latencySeconds;
      }

      @Override
      public double bytesPerSecond(int from, int to) {
        return bytesPerSecond;
      }
    };
  }
}
