package io.skippipe.job.tune;

import io.skippipe.job.task.chunk.Models;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.train.PathTrainer;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlannedMicrobatch;
import io.skippipe.scheduler.profile.ModelSpec;
import io.skippipe.scheduler.tune.LossCurve;
import io.skippipe.scheduler.tune.TuneReport;
import java.util.ArrayList;
import java.util.List;

/**
 * The convergence axis of the tuner: a short training run of a plan's paths on the user's data,
 * in one process ({@link PathTrainer}: every stage here, each microbatch along the stages its
 * planned path visits — the same computation the distributed runtime does, without the network),
 * recording the loss against the sample-layers processed, and the {@link LossCurve} fitted to it.
 *
 * <p>Model: the plan's own model when it has at most {@link #MAX_REAL_PARAMETERS} parameters;
 * otherwise a proxy of the same depth (same layers, layers per stage, sequence length) and width
 * 64 (4 heads, 2 KV heads, FFN 176, as llama-tiny), because what the tuner compares is how the
 * loss responds to visiting fewer or reordered stages, which depends on the depth and the paths;
 * the proxy's absolute losses are not the real model's.
 *
 * <p>Data: step i uses microbatch j's {@code B} sequences {@code ((i·M + j)·B + b) mod n} of the
 * packed data (M microbatches per step, the same for every probe: each probe sees the same data
 * in the same order, from the same initial weights). Learning rate: linear warmup over the first
 * fifth of the steps, then constant (the probes compare rates of progress, not a finished
 * schedule). The curve is fitted to the steps after the first quarter (the first steps of a fresh
 * model fall faster than any power law).
 */
public final class ConvergenceProbe {
  private ConvergenceProbe() {}

  /** Above this many parameters a probe trains the same-depth proxy (class comment). */
  public static final long MAX_REAL_PARAMETERS = 50_000_000L;

  /**
   * Probe settings.
   *
   * @param steps optimizer steps (one plan iteration each)
   * @param seed weight initialisation seed (the same for every probe)
   */
  public record Settings(int steps, long seed, double learningRate, AdamWConfig adamW,
      double gradClip) {
    public Settings {
      if (steps < 4) {
        throw new IllegalArgumentException("a convergence probe needs at least 4 steps, got "
            + steps);
      }
    }
  }

  /** The probe's summary and its raw points. */
  public record Result(TuneReport.Probe probe, List<LossCurve.Sample> samples) {}

  /** The model a probe of {@code spec} trains (class comment). */
  public static LlamaConfig probeModel(ModelSpec spec, int dataVocab) {
    LlamaConfig real = Models.llama(spec);
    if (real.parameterCount() <= MAX_REAL_PARAMETERS) {
      return real;
    }
    return LlamaConfig.of(64, spec.layers(), 4, 2, 176, Math.min(spec.vocab(), dataVocab),
        spec.seqLen() > 256 ? 64 : spec.seqLen(), spec.layersPerStage());
  }

  /** Runs one probe of {@code plan}'s paths. */
  public static Result run(Plan plan, LlamaConfig model, PackedDataset data, Settings s) {
    if (data.seqLen() != model.seqLen()) {
      throw new IllegalArgumentException("probe data is packed to " + data.seqLen()
          + " positions, the probe model has seqLen " + model.seqLen());
    }
    List<int[]> paths = new ArrayList<>();
    for (PlannedMicrobatch m : plan.microbatches()) {
      paths.add(m.path().stream().mapToInt(plan::stageOf).toArray());
    }
    int b = plan.model().samplesPerMicrobatch();
    int mbs = paths.size();
    LrSchedule lr = new LrSchedule(s.learningRate(), s.learningRate(), Math.max(1, s.steps() / 5),
        s.steps());
    List<LossCurve.Sample> samples = new ArrayList<>();
    long t0 = System.nanoTime();
    double work = 0;
    double first = Double.NaN;
    double last = Double.NaN;
    try (PathTrainer trainer = new PathTrainer(model,
        new PathTrainer.Config(s.seed(), s.adamW(), lr, s.gradClip()))) {
      for (int step = 0; step < s.steps(); step++) {
        List<PathTrainer.Microbatch> batch = new ArrayList<>();
        for (int j = 0; j < mbs; j++) {
          batch.add(new PathTrainer.Microbatch(j, tokens(data, ((long) step * mbs + j) * b, b),
              paths.get(j)));
          work += (double) b * paths.get(j).length * model.layersPerStage();
        }
        double loss = trainer.step(batch).meanLoss();
        if (!Double.isFinite(loss)) {
          throw new IllegalStateException("probe of path length " + plan.constraints()
              .pathLength() + " diverged at step " + step + " (loss " + loss + "); lower the"
              + " learning rate");
        }
        samples.add(new LossCurve.Sample(work, loss));
        first = step == 0 ? loss : first;
        last = loss;
      }
    }
    LossCurve curve = LossCurve.fit(samples.subList(s.steps() / 4, samples.size()));
    return new Result(new TuneReport.Probe(plan.constraints().pathLength(), s.steps(), first, last,
        curve, (System.nanoTime() - t0) / 1e9), samples);
  }

  private static int[] tokens(PackedDataset data, long firstSequence, int count) {
    int t1 = data.seqLen() + 1;
    int[] out = new int[count * t1];
    for (int i = 0; i < count; i++) {
      int[] seq = data.sequence((int) ((firstSequence + i) % data.size()));
      System.arraycopy(seq, 0, out, i * t1, t1);
    }
    return out;
  }
}
