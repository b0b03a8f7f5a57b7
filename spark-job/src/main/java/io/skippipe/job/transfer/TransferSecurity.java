package io.skippipe.job.transfer;

import io.skippipe.job.config.ConfigKeys;
import io.skippipe.job.config.TransferConfig;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;

/**
 * What protects a run's traffic, said once at the start of the job and by {@code Preflight}.
 *
 * <p>The block transfer encrypts by itself (see {@link TransferTls}); what it cannot protect is
 * Spark's own RPC, which carries the task closures (with the run's HMAC secret) and the rendezvous
 * rows (with every block server's address and certificate fingerprint). Without
 * {@code spark.authenticate} anyone who reaches the driver can talk to it, and a rewritten
 * fingerprint would let a man in the middle read activations; without
 * {@code spark.network.crypto.enabled} the closures travel in clear text. Both are off by default
 * in Spark, so on a cluster master each one that is off gets a warning.
 */
public final class TransferSecurity {
  private TransferSecurity() {}

  /** The warnings for {@code conf}'s master; none for {@code local} / {@code local[...]}. */
  public static List<String> sparkRpcWarnings(SparkConf conf) {
    String master = conf.get("spark.master", "local");
    List<String> out = new ArrayList<>();
    if (oneJvm(master)) {
      return out;
    }
    if (conf.get(ConfigKeys.TRANSFER_ENCRYPTION.name(), "auto").equals("false")) {
      out.add(ConfigKeys.TRANSFER_ENCRYPTION.name() + "=false on master " + master
          + ": activations and gradients cross the network in clear text; remove the setting"
          + " (auto encrypts on every cluster master)");
    }
    if (!conf.getBoolean("spark.authenticate", false)) {
      out.add("spark.authenticate is off on master " + master + ": Spark's RPC, which carries"
          + " the block servers' addresses and certificate fingerprints, accepts anyone; set"
          + " spark.authenticate=true (YARN creates the secret; elsewhere also set"
          + " spark.authenticate.secret)");
    }
    if (!conf.getBoolean("spark.network.crypto.enabled", false)) {
      out.add("spark.network.crypto.enabled is off on master " + master + ": task closures,"
          + " which carry the run's HMAC secret, travel in clear text; set"
          + " spark.network.crypto.enabled=true (with spark.authenticate=true)");
    }
    return out;
  }

  /** Prints how the block transfer is protected on this master, then the warnings. */
  public static void report(SparkConf conf, TransferConfig transfer, PrintStream out) {
    String master = conf.get("spark.master", "local");
    boolean tls = transfer.resolve(master).encrypted();
    out.println(tls
        ? "block transfer: " + TransferTls.protocol() + " (" + TransferTls.provider() + "), each"
            + " slot's certificate pinned by its peers at rendezvous"
        : "block transfer: plain text (" + (oneJvm(master) ? "master " + master
            + " runs every task in this JVM" : ConfigKeys.TRANSFER_ENCRYPTION.name() + "=false")
            + ")");
    for (String w : sparkRpcWarnings(conf)) {
      out.println("WARNING: " + w);
    }
  }

  private static boolean oneJvm(String master) {
    return master.equals("local") || master.startsWith("local[");
  }
}
