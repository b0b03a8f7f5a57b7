package io.skippipe.job.transfer;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The network threads of the block transfer: one accept thread and a fixed group of I/O threads,
 * shared by every block server and session of the JVM (an executor runs one server per task
 * slot). Created by the first server, shut down when the last one closes. Connections cost no
 * thread: a flood of them is handled by these threads and closed by timers.
 *
 * <p>{@code NioEventLoopGroup} is deprecated in Netty 4.2 in favour of {@code
 * MultiThreadIoEventLoopGroup}, which Netty 4.1 (Spark 4.0) lacks; the old class works on both.
 */
final class EventLoops {
  private static int users;
  private static EventLoopGroup accept;
  private static EventLoopGroup io;

  private EventLoops() {}

  /** Registers a user; the first one creates the groups with {@code ioThreads} I/O threads. */
  @SuppressWarnings("deprecation")
  static synchronized void acquire(int ioThreads) {
    if (users++ == 0) {
      accept = new NioEventLoopGroup(1, new DefaultThreadFactory("skippipe-transfer-accept", true));
      io = new NioEventLoopGroup(ioThreads, new DefaultThreadFactory("skippipe-transfer-io",
          true));
    }
  }

  /** Unregisters a user; the last one shuts the threads down (without waiting for them). */
  static synchronized void release() {
    if (--users == 0) {
      accept.shutdownGracefully(0, 2, TimeUnit.SECONDS);
      io.shutdownGracefully(0, 2, TimeUnit.SECONDS);
      accept = null;
      io = null;
    }
  }

  static synchronized EventLoopGroup accept() {
    return accept;
  }

  static synchronized EventLoopGroup io() {
    return io;
  }
}
