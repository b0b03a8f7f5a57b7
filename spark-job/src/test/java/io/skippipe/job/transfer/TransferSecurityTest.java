package io.skippipe.job.transfer;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.TransferConfig;
import io.skippipe.job.config.TransferConfig.Encryption;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** How encryption=auto is decided and when the job warns about Spark's own RPC. */
class TransferSecurityTest {
  @Test
  void autoEncryptsEveryMasterButOneJvm() {
    TransferConfig auto = JobConfig.parse(Map.of()).transfer();
    assertEquals(Encryption.AUTO, auto.encryption());
    assertThrows(IllegalStateException.class, auto::encrypted, "auto must be resolved first");
    assertFalse(auto.resolve("local").encrypted());
    assertFalse(auto.resolve("local[4]").encrypted());
    assertFalse(auto.resolve("local[*, 3]").encrypted());
    assertTrue(auto.resolve("local-cluster[2,1,1024]").encrypted());
    assertTrue(auto.resolve("yarn").encrypted());
    assertTrue(auto.resolve("k8s://https://api:6443").encrypted());
    assertTrue(auto.resolve("spark://host:7077").encrypted());
    TransferConfig off = JobConfig.parse(Map.of("spark.skippipe.transfer.encryption", "false"))
        .transfer();
    assertFalse(off.resolve("yarn").encrypted(), "an explicit setting wins");
    ConfigException e = assertThrows(ConfigException.class, () -> JobConfig.parse(
        Map.of("spark.skippipe.transfer.encryption", "yes")));
    assertTrue(e.getMessage().contains("spark.skippipe.transfer.encryption"), e.getMessage());
  }

  @Test
  void clusterMastersWarnAboutEachSparkProtectionThatIsOff() {
    SparkConf local = new SparkConf(false).setMaster("local[4]");
    assertEquals(List.of(), TransferSecurity.sparkRpcWarnings(local));

    SparkConf bare = new SparkConf(false).setMaster("yarn");
    List<String> w = TransferSecurity.sparkRpcWarnings(bare);
    assertEquals(2, w.size(), w.toString());
    assertTrue(w.get(0).contains("spark.authenticate"), w.get(0));
    assertTrue(w.get(1).contains("spark.network.crypto.enabled"), w.get(1));

    SparkConf safe = new SparkConf(false).setMaster("yarn").set("spark.authenticate", "true")
        .set("spark.network.crypto.enabled", "true");
    assertEquals(List.of(), TransferSecurity.sparkRpcWarnings(safe));
    safe.set("spark.skippipe.transfer.encryption", "false");
    List<String> off = TransferSecurity.sparkRpcWarnings(safe);
    assertEquals(1, off.size());
    assertTrue(off.get(0).contains("clear text"), off.get(0));
  }
}
