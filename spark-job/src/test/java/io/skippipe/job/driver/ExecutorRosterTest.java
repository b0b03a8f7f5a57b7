package io.skippipe.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.skippipe.job.testing.LocalSparkExtension;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The slots a barrier job can get are counted from what registered, not defaultParallelism. */
class ExecutorRosterTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(3);

  @Test
  void localModeOffersTheDriversSlots() {
    long t0 = System.nanoTime();
    List<ExecutorRoster.Executor> roster = ExecutorRoster.await(spark.jsc(), 5, 60_000);
    System.out.println("roster " + roster + " in " + (System.nanoTime() - t0) / 1e6 + " ms");
    assertEquals(List.of(new ExecutorRoster.Executor("driver", roster.get(0).host(), 3)), roster);
  }
}
