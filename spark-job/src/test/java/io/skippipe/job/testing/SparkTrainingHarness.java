package io.skippipe.job.testing;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.driver.ChunkedTraining;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.job.task.chunk.ShardSource;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.PathTrainer;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Runs {@link ChunkedTraining} on a plan inside a Spark session (rendezvous, shards, chunks) and
 * computes the single-process reference ({@link PathTrainer}) on the same data, for equivalence and
 * resume tests.
 */
public final class SparkTrainingHarness {
  private SparkTrainingHarness() {}

  /**
   * Largest weight difference allowed between a distributed run and the single-process
   * PathTrainer on the toy plans (a few AdamW steps at lr = 0.01, ε = 1e-8). Both add each node's
   * microbatch gradients in ascending id order at the same intra-op thread count (checked bitwise
   * by DeterminismTest), but the distributed sum groups them by replica — (g0+g2)+(g1+g3) instead
   * of g0+g1+g2+g3 — so an element may differ by an ulp of its largest term. AdamW amplifies that
   * where a gradient element cancels to about ε: its update lr·ĝ/(|ĝ|+ε) moves by up to
   * lr·Δg/(4ε), e.g. 0.01·1e-10/(4e-8) = 2.5e-5 for one ulp of a 1e-3 term (measured: 4e-6). A
   * wrong path, order, loss scale or learning rate moves weights by about lr = 1e-2, so 1e-4
   * separates the two by a factor of 100 either way.
   */
  public static final double REFERENCE_TOLERANCE = 1e-4;

  /** Random packed shards, one per data node, written under {@code base/data}. */
  public static Map<Integer, String> writeShards(Plan plan, String base, Configuration conf,
      long seed) throws Exception {
    Map<Integer, String> shards = new HashMap<>();
    int t1 = plan.model().seqLen() + 1;
    for (int d : plan.dataNodes()) {
      Random r = new Random(seed * 31 + d);
      int[] ids = new int[12 * t1];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = r.nextInt(plan.model().vocab());
      }
      String uri = base + "/data/shard-" + d + ".bin";
      Path p = new Path(HadoopConfs.toUri(uri));
      try (OutputStream out = p.getFileSystem(conf).create(p, true)) {
        new PackedDataset(plan.model().seqLen(), ids).writeTo(out);
      }
      shards.put(d, uri);
    }
    return shards;
  }

  /** Trains the plan in chunks (each attempt meets at its own rendezvous); returns the outcome. */
  public static ChunkedTraining.Outcome train(JavaSparkContext jsc, Plan plan, JobConfig cfg,
      String run, Map<Integer, String> shards, Map<String, String> hadoop) throws Exception {
    return train(jsc, plan, cfg, run, shards, hadoop, r -> { });
  }

  /** As above, calling {@code afterChunk} after each chunk (before its commit). */
  public static ChunkedTraining.Outcome train(JavaSparkContext jsc, Plan plan, JobConfig cfg,
      String run, Map<Integer, String> shards, Map<String, String> hadoop,
      ChunkedTraining.ChunkListener afterChunk) throws Exception {
    return train(jsc, plan, cfg, run, shards, hadoop, afterChunk,
        io.skippipe.scheduler.profile.ProfileJson.toJson(plan.cluster()).toString());
  }

  /** As above, emulating the network {@code networkJson} (a cluster profile) instead. */
  public static ChunkedTraining.Outcome train(JavaSparkContext jsc, Plan plan, JobConfig cfg,
      String run, Map<Integer, String> shards, Map<String, String> hadoop,
      ChunkedTraining.ChunkListener afterChunk, String networkJson) throws Exception {
    byte[] secret = ("secret-" + run).getBytes();
    String planJson = PlanCodec.toJsonString(plan);
    ChunkedTraining.RunSetup setup = new ChunkedTraining.RunSetup(run, "lineage-" + run,
        java.util.Optional.empty(), io.skippipe.job.task.chunk.ScheduleFollower.nowMicros(),
        plan, planJson, Integer.toHexString(planJson.hashCode()) + "0".repeat(12), Map.of(),
        secret, cfg, cfg.transfer().resolve(jsc.master()), cfg.checkpointRoot(), cfg.runDir(),
        shards, hadoop, networkJson);
    CheckpointStore store = new HadoopCheckpointStore(cfg.checkpointRoot(),
        HadoopConfs.current(hadoop));
    try {
      return ChunkedTraining.train(jsc, setup, store, afterChunk);
    } finally {
      io.skippipe.job.task.role.ExecutorSlots.close(run); // local mode: slots live in this JVM
    }
  }

  /** The reference weights per stage after {@code iterations} on the same shards. */
  public static Map<Integer, Map<String, float[]>> reference(Plan plan, JobConfig cfg,
      Map<Integer, String> shards, Configuration conf, int iterations) throws Exception {
    return reference(plan, cfg, shards, conf, iterations, Models.llama(plan.model()), null);
  }

  /**
   * The intra-op thread count the stage tasks of {@code cfg} ran with in the default session's
   * master ({@link io.skippipe.job.task.chunk.ComputeThreads#resolve}, one CPU per task), so that a
   * reference computes with the same count: results are bitwise equal only at the same count.
   */
  public static int taskThreads(JobConfig cfg) {
    String master = org.apache.spark.sql.SparkSession.getDefaultSession().isDefined()
        ? org.apache.spark.sql.SparkSession.getDefaultSession().get().sparkContext().master()
        : "local";
    return io.skippipe.job.task.chunk.ComputeThreads.resolve(cfg.train().intraOpThreads(), 1, master,
        Runtime.getRuntime().availableProcessors());
  }

  /**
   * As {@link #reference(Plan, JobConfig, Map, Configuration, int)} for the model {@code llama},
   * starting from {@code initial} weights (HF names; null = the seed's initialisation).
   */
  public static Map<Integer, Map<String, float[]>> reference(Plan plan, JobConfig cfg,
      Map<Integer, String> shards, Configuration conf, int iterations, LlamaConfig llama,
      Map<String, float[]> initial) throws Exception {
    Map<Integer, ShardSource> sources = new HashMap<>();
    for (int d : plan.dataNodes()) {
      sources.put(d, ShardSource.open(shards.get(d), conf, plan.model().seqLen(),
          plan.microbatchesOf(d).stream().map(PlannedMicrobatch::id).toList(),
          plan.model().samplesPerMicrobatch(), cfg.seed(), d));
    }
    io.skippipe.job.task.chunk.ComputeThreads.apply(taskThreads(cfg)); // as the tasks computed
    AdamWConfig adamW = new AdamWConfig(cfg.train().beta1(), cfg.train().beta2(),
        cfg.train().epsilon(), cfg.train().weightDecay());
    try (PathTrainer t = new PathTrainer(llama, new PathTrainer.Config(cfg.seed(), adamW,
        cfg.train().lrSchedule(),
        cfg.train().gradClipNorm()))) {
      if (initial != null) {
        t.stages().forEach(st -> st.importWeights(initial));
      }
      for (int it = 0; it < iterations; it++) {
        List<PathTrainer.Microbatch> mbs = new ArrayList<>();
        for (PlannedMicrobatch m : plan.microbatches()) {
          mbs.add(new PathTrainer.Microbatch(m.id(), sources.get(m.dataNode()).tokens(it, m.id()),
              TestPlans.stagePath(plan, m.id())));
        }
        t.step(mbs);
      }
      Map<Integer, Map<String, float[]>> out = new HashMap<>();
      for (int s = 0; s < llama.stages(); s++) {
        out.put(s, t.stages().get(s).exportWeights());
      }
      return out;
    }
  }

  /** Largest |difference| between checkpointed replica weights at {@code step} and the reference. */
  public static double worstDifference(Plan plan, CheckpointStore store, long step,
      Map<Integer, Map<String, float[]>> expected) throws Exception {
    return worstDifference(plan, store, step, expected, Models.llama(plan.model()));
  }

  /** As {@link #worstDifference(Plan, CheckpointStore, long, Map)} for the model {@code llama}. */
  public static double worstDifference(Plan plan, CheckpointStore store, long step,
      Map<Integer, Map<String, float[]>> expected, LlamaConfig llama) throws Exception {
    double worst = 0;
    for (int s = 0; s < plan.stages().size(); s++) {
      for (int r = 0; r < 1; r++) { // replica 0 writes the stage's checkpoint
        try (StageModel m = StageModel.create(llama, s, 999); AdamW o = new AdamW(m,
            AdamWConfig.llamaDefaults())) {
          StageState.load(store, step, s, r, m, o);
          Map<String, float[]> got = m.exportWeights();
          for (Map.Entry<String, float[]> e : expected.get(s).entrySet()) {
            float[] a = e.getValue();
            float[] b = got.get(e.getKey());
            for (int i = 0; i < a.length; i++) {
              worst = Math.max(worst, Math.abs(a[i] - b[i]));
            }
          }
        }
      }
    }
    return worst;
  }

  /**
   * The bytes of every stage file (weights and optimizer state, replica 0) of a committed or
   * written step, by relative path: what two runs that claim to be identical must agree on.
   */
  public static Map<String, byte[]> stageFiles(CheckpointStore store, int stages, long step)
      throws Exception {
    Map<String, byte[]> out = new java.util.TreeMap<>();
    for (int s = 0; s < stages; s++) {
      for (String name : List.of(StageState.WEIGHTS, StageState.OPTIMIZER)) {
        String rel = CheckpointStore.replicaFile(s, 0, name);
        try (var in = store.open(step, rel)) {
          out.put(rel, in.readAllBytes());
        }
      }
    }
    return out;
  }

  /** Asserts two runs' stage files are byte-identical, naming the first file that is not. */
  public static void assertSameBytes(Map<String, byte[]> expected, Map<String, byte[]> actual,
      String what) {
    org.junit.jupiter.api.Assertions.assertEquals(expected.keySet(), actual.keySet(), what);
    for (String k : expected.keySet()) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(expected.get(k), actual.get(k),
          what + ": " + k + " differs");
    }
  }

  /** Deletes a directory tree (test cleanup). */
  public static void delete(String uri, Configuration conf) throws Exception {
    Path p = new Path(HadoopConfs.toUri(uri));
    FileSystem fs = p.getFileSystem(conf);
    fs.delete(p, true);
  }
}
