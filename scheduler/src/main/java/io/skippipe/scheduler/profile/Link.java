package io.skippipe.scheduler.profile;

import io.skippipe.scheduler.plan.PlanningException;

/**
 * A network link between two locations: one-way latency and bandwidth (1 GB = 1024^3 bytes). A
 * transfer of {@code bytes} takes {@code latencyMs/1000 + bytes/(bandwidthGBps*1024^3)} seconds.
 */
public record Link(double latencyMs, double bandwidthGBps) {
  public static final double GIB = 1024.0 * 1024.0 * 1024.0;

  public Link {
    if (!(latencyMs >= 0) || Double.isInfinite(latencyMs)) {
      throw PlanningException.of("link latencyMs " + latencyMs, "latency must be >= 0 and finite",
          "give the one-way latency in milliseconds");
    }
    if (!(bandwidthGBps > 0) || Double.isInfinite(bandwidthGBps)) {
      throw PlanningException.of("link bandwidthGBps " + bandwidthGBps,
          "bandwidth must be > 0 and finite", "give the bandwidth in GB/s (1 GB = 1024^3 bytes)");
    }
  }

  /** Seconds to move {@code bytes} over this link, without the per-hop overhead. */
  public double transferSeconds(long bytes) {
    return latencyMs / 1000.0 + bytes / (bandwidthGBps * GIB);
  }
}
