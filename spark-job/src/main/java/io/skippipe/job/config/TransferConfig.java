package io.skippipe.job.config;

import java.io.Serializable;

/**
 * Settings of the block transfer (one server socket per task slot).
 *
 * @param bindHost address to bind and advertise; empty = the executor's host
 * @param port server port; 0 = any free port
 * @param queueCapacity received messages buffered before readers stop reading (backpressure)
 * @param connectTimeoutMillis connect + handshake limit
 * @param readTimeoutMillis longest silence tolerated from a connected peer, and the default wait
 * @param heartbeatMillis heartbeat interval on idle connections (below readTimeoutMillis)
 * @param maxFrameBytes largest payload accepted
 */
public record TransferConfig(String bindHost, int port, int queueCapacity,
    int connectTimeoutMillis, int readTimeoutMillis, int heartbeatMillis, int maxFrameBytes)
    implements Serializable {
  public TransferConfig {
    if (heartbeatMillis >= readTimeoutMillis) {
      throw new ConfigException(ConfigKeys.TRANSFER_HEARTBEAT_MS.name(), "" + heartbeatMillis,
          "must be below " + ConfigKeys.TRANSFER_READ_TIMEOUT_MS.name() + "=" + readTimeoutMillis
              + " (else idle peers look dead)",
          "lower the heartbeat interval or raise the read timeout");
    }
    if (queueCapacity < 1) {
      throw new ConfigException(ConfigKeys.TRANSFER_QUEUE_CAPACITY.name(), "" + queueCapacity,
          "must be at least 1", "use e.g. 64");
    }
  }

  /** Defaults suited to loopback tests. */
  public static TransferConfig loopback() {
    return new TransferConfig("127.0.0.1", 0, 64, 5_000, 30_000, 1_000, 1 << 28);
  }
}
