package io.skippipe.job.driver;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.task.chunk.ChunkResult;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.Planner;
import io.skippipe.scheduler.plan.PlannerConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.Filter;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.filter.RegexFilter;
import org.apache.logging.log4j.core.config.Configurator;

/**
 * What the driver tells the user while a run goes, one {@code [skippipe]} line per event: each
 * phase when it starts and again with its duration and result when it ends (planning — method,
 * predicted iteration time against the full pipeline; data — documents, tokens, sequences, shards,
 * as {@code DataPrep.Result#summary}; rendezvous; each chunk i/n), so a user never waits on a
 * silent console. The per-iteration
 * progress line is {@link RunMetrics}'; the closing summary adds where the timeline is and how to
 * open it.
 *
 * <p>It also quiets log lines known to be harmless ({@link #quietKnownWarnings}), each explained
 * where it is silenced.
 */
public final class Console {
  private final PrintStream out;

  public Console(PrintStream out) {
    this.out = out;
  }

  /** A phase in progress: announced when created, reported with its duration by {@link #done}. */
  public final class Phase {
    private final long startNanos = System.nanoTime();

    private Phase(String what) {
      out.println("[skippipe] " + what + " ...");
    }

    /** Seconds since the phase began. */
    public double seconds() {
      return (System.nanoTime() - startNanos) / 1e9;
    }

    /** Reports the phase's result, e.g. "data ready", with its duration. */
    public void done(String result) {
      out.printf(Locale.ROOT, "[skippipe] %s (%.1f s)%n", result, seconds());
    }
  }

  /** Announces a phase. */
  public Phase begin(String what) {
    return new Phase(what);
  }

  /** A one-off line. */
  public void say(String line) {
    out.println("[skippipe] " + line);
  }

  /**
   * Runs {@link RunChecks#check} (every check that can refuse the run, and planning) as one
   * announced phase that ends with the plan's report.
   */
  public RunChecks.Checked check(JobConfig cfg, String master, Map<String, String> hadoop)
      throws IOException {
    Phase p = begin("checking the settings and " + (!cfg.plan().planFile().isEmpty()
        ? "reading the plan " + cfg.plan().planFile() : cfg.network().mode().equals("probe")
        ? "the network probe's profile" : "planning " + cfg.plan().method() + " on "
        + cfg.cluster() + " / " + cfg.model()));
    RunChecks.Checked c = RunChecks.check(cfg, master, hadoop);
    if (c.planned() != null) {
      planned(p, c.planned().plan());
    } else {
      p.done("settings checked" + (c.dir().start() == RunDirectory.Start.FINISHED ? ""
          : "; the plan follows the network probe"));
    }
    return c;
  }

  /** Announces planning: on the configured cluster, on the measured network, or a plan.file. */
  public Phase planning(JobConfig cfg, boolean measured) {
    return begin(!cfg.plan().planFile().isEmpty() ? "reading the plan " + cfg.plan().planFile()
        : "planning " + cfg.plan().method() + " on " + (measured ? "the measured network"
            : cfg.cluster()) + " / " + cfg.model());
  }

  /**
   * Reports the plan: its predicted iteration time against the full pipeline (every microbatch
   * through every stage in order, on the same stages), the relative saving, and the microbatches.
   */
  public void planned(Phase p, Plan plan) {
    String vs = "";
    if (!plan.method().equals("dtfm")) {
      try {
        Plan full = Planner.plan(plan.cluster(), plan.model(),
            PlannerConfig.defaults("dtfm").withStages(plan.stages()));
        vs = String.format(Locale.ROOT, " vs %.3f s for the full pipeline (dtfm) on the same"
                + " stages, %.0f%% shorter", full.iterationSeconds(),
            100 * (1 - plan.iterationSeconds() / full.iterationSeconds()));
      } catch (RuntimeException e) {
        vs = " (no full-pipeline comparison: " + e.getMessage() + ")";
      }
    }
    p.done(String.format(Locale.ROOT, "planned %s on %s / %s: predicted iteration %.3f s%s; %d"
            + " microbatches on %d nodes in %d stages", plan.method(), plan.cluster().name(),
        plan.model().name(), plan.iterationSeconds(), vs, plan.microbatches().size(),
        plan.nodeCount(), plan.stages().size()));
  }

  /**
   * Reports the executors registered for the run: their task slots and hosts (every chunk attempt
   * gathers the executors registered then again, issue 8).
   */
  public void rendezvousDone(Phase p, List<ExecutorRoster.Executor> roster) {
    long hosts = roster.stream().map(ExecutorRoster.Executor::host).distinct().count();
    p.done(String.format(Locale.ROOT, "rendezvous: %d task slots on %d executor%s, %d host%s;"
        + " each chunk attempt meets the executors registered then", ExecutorRoster.slots(roster),
        roster.size(), roster.size() == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s"));
  }

  /** Tracks chunks i/n: a line when each finishes and when the next starts. */
  public final class Chunks {
    private final int total;
    private final int chunkIterations;
    private final int iterations;
    private Phase current;
    private int index;

    private Chunks(long firstStep, int iterations, int chunkIterations) {
      this.iterations = iterations;
      this.chunkIterations = chunkIterations;
      this.total = (iterations + chunkIterations - 1) / chunkIterations;
      this.index = (int) (firstStep / chunkIterations);
      start();
    }

    private void start() {
      if (index < total) {
        int from = index * chunkIterations + 1;
        int to = Math.min(iterations, from + chunkIterations - 1);
        current = begin(String.format(Locale.ROOT, "chunk %d/%d: iteration%s %s", index + 1,
            total, from == to ? "" : "s", from == to ? "" + from : from + "-" + to));
      }
    }

    /** Called when a chunk's tasks have all finished (its node reports). */
    public void completed(List<ChunkResult> results) {
      long nodes = results.stream().map(r -> r.iterations().isEmpty() ? -1
          : r.iterations().get(0).node()).distinct().count();
      current.done(String.format(Locale.ROOT, "chunk %d/%d done on %d nodes", index + 1, total,
          nodes));
      index++;
      start();
    }
  }

  /** Announces training ({@code firstStep} = the commit it resumes from, 0 for a new run). */
  public Chunks training(long firstStep, int iterations, int chunkIterations) {
    say(String.format(Locale.ROOT, "training %d iterations in chunks of %d%s", iterations,
        chunkIterations, firstStep > 0 ? ", resuming after iteration " + firstStep : ""));
    return new Chunks(firstStep, iterations, chunkIterations);
  }

  /** The summary line about the run's timeline page. */
  public void timeline(String page, String runDir) {
    out.println("  timeline: " + page + " — open it in a browser (predicted over measured, per"
        + " node); redraw with bin/skippipe timeline " + runDir + " --out FILE [--trace"
        + " trace.json for ui.perfetto.dev]");
  }

  /**
   * Silences log lines that are expected on a healthy run, where they would only alarm: DJL's CUDA
   * probe on a machine without a usable GPU ({@code CudaUtils: Failed to detect GPU count}: the
   * run uses the CPU as configured), Hadoop's note that it uses its Java code instead of native
   * libraries ({@code NativeCodeLoader}), and Spark's "task of very large size" (data preparation
   * ships the bundled corpus inside its tasks). Applies to this JVM (the driver; in local mode the
   * executors too).
   */
  public static void quietKnownWarnings() {
    try {
      Configurator.setLevel("ai.djl.util.cuda.CudaUtils", Level.ERROR);
      Configurator.setLevel("org.apache.hadoop.util.NativeCodeLoader", Level.ERROR);
      // Data preparation of the bundled corpus ships it inside its tasks (about 2 MB each):
      // Spark's "task of very large size" is expected there. Only that message is dropped.
      LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
      ctx.getConfiguration().addFilter(RegexFilter.createFilter(".*task of very large size.*",
          null, false, Filter.Result.DENY, Filter.Result.NEUTRAL));
      ctx.updateLoggers();
    } catch (LinkageError | RuntimeException | IllegalAccessException e) {
      // another logging backend: leave its configuration alone
    }
  }
}
