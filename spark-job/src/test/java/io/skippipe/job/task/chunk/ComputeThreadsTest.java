package io.skippipe.job.task.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Thread-pool sizing (issue 11 item 2): each task gets its CPU allotment, never less than 1. */
class ComputeThreadsTest {
  @Test
  void aConfiguredCountWins() {
    assertEquals(3, ComputeThreads.resolve(3, 1, "local[12]", 2));
    assertEquals(3, ComputeThreads.resolve(3, 4, "yarn", 64));
  }

  @Test
  void onAClusterTheAllotmentIsTaskCpus() {
    assertEquals(1, ComputeThreads.resolve(0, 1, "yarn", 64));
    assertEquals(4, ComputeThreads.resolve(0, 4, "yarn", 64));
    assertEquals(2, ComputeThreads.resolve(0, 2, "k8s://https://api:6443", 8));
    assertEquals(1, ComputeThreads.resolve(0, 0, "spark://host:7077", 8), "at least 1");
  }

  @Test
  void localMastersShareTheMachinesCoresAmongTheirSlots() {
    // more slots than cores: one thread each, never 0
    assertEquals(1, ComputeThreads.resolve(0, 1, "local[12]", 2));
    assertEquals(1, ComputeThreads.resolve(0, 1, "local-cluster[2,6,2048]", 2));
    // fewer slots than cores: the cores are divided
    assertEquals(8, ComputeThreads.resolve(0, 1, "local[2]", 16));
    assertEquals(16, ComputeThreads.resolve(0, 1, "local", 16));
    assertEquals(1, ComputeThreads.resolve(0, 1, "local[*]", 16));
    assertEquals(5, ComputeThreads.resolve(0, 1, "local[3,2]", 16), "with task retries");
    assertEquals(4, ComputeThreads.resolve(0, 2, "local[8]", 16), "4 slots of 2 cpus");
    assertEquals(4, ComputeThreads.resolve(0, 1, "local-cluster[2,2,1024]", 16));
  }
}
