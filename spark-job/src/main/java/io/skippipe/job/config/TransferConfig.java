package io.skippipe.job.config;

import java.io.Serializable;

/**
 * Settings of the block transfer (one server per task slot; see {@code transfer.TcpBlockServer}).
 *
 * @param bindHost address to bind and advertise; empty = the executor's host
 * @param port server port; 0 = any free port
 * @param queueCapacity received messages buffered before readers stop reading (backpressure)
 * @param connectTimeoutMillis total limit of connect + TLS + HMAC handshake, both ends
 * @param readTimeoutMillis longest silence tolerated from a connected peer, and the default wait
 * @param heartbeatMillis heartbeat interval on idle connections (below readTimeoutMillis)
 * @param maxFrameBytes largest payload accepted
 * @param writeTimeoutMillis longest a send waits with no byte accepted by the peer
 * @param maxBufferedBytes bytes held beyond the inbox (early arrivals; overflow while sending)
 * @param maxPendingConnections connections held per server before they reach their session
 * @param ioThreads network threads per JVM; 0 = min(4, available processors)
 * @param encryption TLS on the block connections; {@link Encryption#AUTO} until the driver
 *     resolves it against the master ({@link #resolve})
 */
public record TransferConfig(String bindHost, int port, int queueCapacity,
    int connectTimeoutMillis, int readTimeoutMillis, int heartbeatMillis, int maxFrameBytes,
    int writeTimeoutMillis, long maxBufferedBytes, int maxPendingConnections, int ioThreads,
    Encryption encryption)
    implements Serializable {
  /** {@code spark.skippipe.transfer.encryption}. */
  public enum Encryption {
    AUTO, ON, OFF;

    /** Parses {@code auto | true | false}. */
    public static Encryption parse(String s) {
      return switch (s) {
        case "auto" -> AUTO;
        case "true" -> ON;
        case "false" -> OFF;
        default -> throw new ConfigException(ConfigKeys.TRANSFER_ENCRYPTION.name(), s,
            "must be auto, true or false", "use auto (TLS unless the master is local[...])");
      };
    }
  }

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
    if (writeTimeoutMillis < 1) {
      throw new ConfigException(ConfigKeys.TRANSFER_WRITE_TIMEOUT_MS.name(),
          "" + writeTimeoutMillis, "must be at least 1", "use e.g. 120000");
    }
    if (maxBufferedBytes < maxFrameBytes) {
      throw new ConfigException(ConfigKeys.TRANSFER_MAX_BUFFERED_BYTES.name(),
          "" + maxBufferedBytes, "must be at least " + ConfigKeys.TRANSFER_MAX_FRAME_BYTES.name()
              + "=" + maxFrameBytes + " (else one legal block that arrives early cannot be held)",
          "raise it to " + maxFrameBytes + " or more, or lower maxFrameBytes");
    }
    if (maxPendingConnections < 1) {
      throw new ConfigException(ConfigKeys.TRANSFER_MAX_PENDING_CONNECTIONS.name(),
          "" + maxPendingConnections, "must be at least 1",
          "use e.g. 128 (a plan of N nodes needs N - 1)");
    }
    if (ioThreads < 0) {
      throw new ConfigException(ConfigKeys.TRANSFER_IO_THREADS.name(), "" + ioThreads,
          "must be >= 0", "use 0 for min(4, available processors)");
    }
    if (encryption == null) {
      throw new IllegalArgumentException("encryption must not be null");
    }
  }

  /** The first seven settings, the others at their defaults, encryption off (tests, benches). */
  public TransferConfig(String bindHost, int port, int queueCapacity, int connectTimeoutMillis,
      int readTimeoutMillis, int heartbeatMillis, int maxFrameBytes) {
    this(bindHost, port, queueCapacity, connectTimeoutMillis, readTimeoutMillis, heartbeatMillis,
        maxFrameBytes, 120_000, Math.max(1L << 30, maxFrameBytes), 128, 0, Encryption.OFF);
  }

  /** Defaults suited to loopback tests. */
  public static TransferConfig loopback() {
    return new TransferConfig("127.0.0.1", 0, 64, 5_000, 30_000, 1_000, 1 << 28);
  }

  /** The same settings bound to {@code host}. */
  public TransferConfig withBindHost(String host) {
    return new TransferConfig(host, port, queueCapacity, connectTimeoutMillis, readTimeoutMillis,
        heartbeatMillis, maxFrameBytes, writeTimeoutMillis, maxBufferedBytes,
        maxPendingConnections, ioThreads, encryption);
  }

  /** The same settings with encryption {@code e}. */
  public TransferConfig withEncryption(Encryption e) {
    return new TransferConfig(bindHost, port, queueCapacity, connectTimeoutMillis,
        readTimeoutMillis, heartbeatMillis, maxFrameBytes, writeTimeoutMillis, maxBufferedBytes,
        maxPendingConnections, ioThreads, e);
  }

  /**
   * These settings with {@code auto} decided for a Spark master: off for {@code local} and
   * {@code local[...]} (every task in one JVM, traffic on loopback), on for every other master,
   * {@code local-cluster[...]} included (separate executor JVMs, as on a cluster).
   */
  public TransferConfig resolve(String master) {
    if (encryption != Encryption.AUTO) {
      return this;
    }
    boolean oneJvm = master.equals("local") || master.startsWith("local[");
    return withEncryption(oneJvm ? Encryption.OFF : Encryption.ON);
  }

  /** Whether connections use TLS; throws while still {@code auto} (not yet resolved). */
  public boolean encrypted() {
    if (encryption == Encryption.AUTO) {
      throw new IllegalStateException(ConfigKeys.TRANSFER_ENCRYPTION.name() + "=auto was not"
          + " resolved against the master (TransferConfig.resolve) before starting a block server");
    }
    return encryption == Encryption.ON;
  }

  /** The number of network threads {@link #ioThreads} stands for on this machine. */
  public int effectiveIoThreads() {
    return ioThreads > 0 ? ioThreads : Math.min(4, Runtime.getRuntime().availableProcessors());
  }
}
