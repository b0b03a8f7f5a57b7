package io.skippipe.job.driver;

import io.skippipe.job.config.JobConfig;
import io.skippipe.job.tune.ConvergenceProbe;
import io.skippipe.job.tune.ProbeData;
import io.skippipe.job.tune.Tuning;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.ClusterProfile;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.tune.Tuner;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.function.Function;

/**
 * {@code spark.skippipe.plan.skipRatio=auto}: the tuner at job start. Throughput only by default
 * (fast: planning and simulation on the driver); with {@code plan.tune.probe=true} also the
 * convergence probes on a sample of the run's training data ({@link ProbeData}) with the run's
 * optimizer settings. The report (frontier, probes, choice) goes to RUN_DIR/tune.json.
 *
 * <p>Activation checkpointing: when {@code spark.skippipe.train.activationCheckpointing} is not
 * given, the tuner searches it off and on and the run follows the choice (the chosen plan's
 * {@code model.activationCheckpointing}, which {@code StageTask} applies); when it is given, true
 * or false, only that value is searched.
 */
final class JobTuning {
  private JobTuning() {}

  /** The tuned plan and the tuner's report (RUN_DIR/tune.json). */
  record Tuned(Plan plan, String reportJson) {}

  /** Tunes; {@code readUri} reads the tokenizer file when one is configured. */
  static Tuned tune(JobConfig cfg, ClusterProfile cluster, ModelSpec model, PlannerConfig base,
      Function<String, byte[]> readUri) {
    ConvergenceProbe.Settings probe = !cfg.plan().tuneProbe() ? null
        : new ConvergenceProbe.Settings(cfg.plan().tuneProbeSteps(), cfg.seed(),
            cfg.train().learningRate(), cfg.train().adamW(), cfg.train().gradClipNorm());
    byte[] tokenizer = cfg.data().tokenizer().isEmpty() ? null
        : readUri.apply(cfg.data().tokenizer());
    Tuning.Outcome r = Tuning.run(new Tuning.Request(cluster, model, base, 1.0 / 3, null, null,
        probe, seqLen -> ProbeData.load(cfg.data().input(), cfg.data().jsonField(), tokenizer,
            seqLen, model.vocab()), checkpointingSearched(cfg)),
        new PrintStream(OutputStream.nullOutputStream()));
    return new Tuned(r.choice(), r.report().toJson().toPrettyString() + "\n");
  }

  /** The activation checkpointing settings the tuner searches (class comment). */
  static List<Boolean> checkpointingSearched(JobConfig cfg) {
    return cfg.compute().activationCheckpointingGiven()
        ? List.of(cfg.compute().activationCheckpointing()) : Tuner.BOTH;
  }
}
