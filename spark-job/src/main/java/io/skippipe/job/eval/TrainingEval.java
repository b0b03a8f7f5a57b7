package io.skippipe.job.eval;

import static io.skippipe.job.config.ConfigKeys.EVAL_DATA;
import static io.skippipe.job.config.ConfigKeys.EVAL_OMIT_STAGES;

import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.JobConfig;
import io.skippipe.job.config.JobConfig.EvalSettings;
import io.skippipe.job.driver.DataPrep;
import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.OmissionEval;
import io.skippipe.model.eval.Perplexity;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Layer-omission evaluation during training: after every N-th checkpoint commit the driver loads
 * the committed step and runs the same report as {@code bin/skippipe eval} ({@link OmissionEval})
 * on held-out text, so omission robustness is tracked over the run like the loss. Each evaluation
 * is one line of {@code RUN_DIR/metrics/eval.jsonl} (the {@code eval --json} document, rewritten
 * whole after each evaluation so it works on object stores) and one console line.
 *
 * <p>It runs on the driver (all stages in its memory, a few held-out sequences): keep {@code
 * spark.skippipe.eval.sequences} small for large models. A failed evaluation is logged and training
 * goes on.
 */
public final class TrainingEval {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingEval.class);

  private final EvalSettings settings;
  private final LlamaConfig model;
  private final String checkpointRoot;
  private final String metricsFile;
  private final long seed;
  private final String tokenizer;
  private final Configuration conf;
  private final PrintStream console;
  private final List<String> lines = new ArrayList<>();
  private int commits;

  private TrainingEval(EvalSettings settings, JobConfig cfg, LlamaConfig model,
      Configuration conf, PrintStream console) {
    this.settings = settings;
    this.model = model;
    this.checkpointRoot = cfg.checkpointRoot();
    this.metricsFile = cfg.runDir().replaceAll("/+$", "") + "/metrics/eval.jsonl";
    this.seed = cfg.seed();
    // the tokenizer the run trains with, recorded by data preparation
    this.tokenizer = cfg.runDir().replaceAll("/+$", "") + "/" + DataPrep.TOKENIZER_FILE;
    this.conf = conf;
    this.console = console;
  }

  /**
   * The evaluator of a run ({@code cfg.eval()}, the {@code spark.skippipe.eval.*} keys). Checks
   * the omitted sets against the model's stages and that the data exists, so a
   * mistake stops the run before data preparation.
   *
   * @throws ConfigException naming the key, the value and the fix
   */
  public static TrainingEval create(JobConfig cfg, LlamaConfig model,
      Map<String, String> hadoop, PrintStream console) throws IOException {
    EvalSettings s = cfg.eval();
    for (Set<Integer> set : s.omitStages()) {
      try {
        Perplexity.checkOmitted(model.stages(), set);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(EVAL_OMIT_STAGES.name(), s.omitStages().toString(),
            e.getMessage(), "name stages 1.." + (model.stages() - 1));
      }
    }
    Configuration conf = HadoopConfs.current(hadoop);
    if (s.everyCommits() > 0 && !s.data().isEmpty()) {
      Path p = new Path(HadoopConfs.toUri(s.data()));
      if (!p.getFileSystem(conf).exists(p)) {
        throw new ConfigException(EVAL_DATA.name(), s.data(), "does not exist",
            "give held-out text files, or leave it empty for the bundled validation split");
      }
    }
    return new TrainingEval(s, cfg, model, conf, console);
  }

  /** Whether evaluation is on ({@code eval.everyCommits > 0}). */
  public boolean enabled() {
    return settings.everyCommits() > 0;
  }

  /**
   * Called by the driver after each checkpoint commit: on every N-th, evaluates {@code step}.
   * Never throws: a failed evaluation is logged and training goes on.
   */
  public void afterCommit(long step) {
    if (!enabled() || ++commits % settings.everyCommits() != 0) {
      return;
    }
    try {
      evaluate(step);
    } catch (IOException | RuntimeException e) {
      LOG.warn("evaluation of step {} failed ({}); training continues", step, e.toString());
      console.println("[skippipe] eval of step " + step + " failed: " + e.getMessage()
          + " (training continues)");
    }
  }

  /** The eval.jsonl lines so far. */
  public List<String> lines() {
    return List.copyOf(lines);
  }

  private void evaluate(long step) throws IOException {
    long t0 = System.nanoTime();
    byte[] tok = read(tokenizer);
    try (LoadedModel m = LoadedModel.load(
        new LoadedModel.CheckpointStep(checkpointRoot, step, model), tok, conf)) {
      List<int[]> seqs;
      try (TextTokenizer t = m.tokenizer()) {
        seqs = HeldOutText.sequences(HeldOutText.documents(settings.data(), conf), t,
            model.seqLen(), settings.sequences());
      }
      OmissionEval.Report r = OmissionEval.run(m.stages(), seqs, new OmissionEval.Settings(
          settings.halfSubsets(), seed, settings.omitStages(), 8));
      lines.add(OmissionEval.toJson(r, step, m.source()).toString());
      Path out = new Path(HadoopConfs.toUri(metricsFile));
      try (OutputStream o = out.getFileSystem(conf).create(out, true)) {
        o.write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
      }
      OmissionEval.Row worst = r.omitted().stream().filter(x -> x.kind().equals("single"))
          .max(Comparator.comparingDouble(OmissionEval.Row::meanNll)).orElse(null);
      console.printf(Locale.ROOT, "[skippipe] eval step %d: perplexity %.2f with all stages%s%s"
              + " (%d held-out sequences, %.1f s) -> %s%n", step, r.perplexity(),
          Double.isNaN(r.halfOmittedPerplexity()) ? "" : String.format(Locale.ROOT,
              ", %.2f with half omitted", r.halfOmittedPerplexity()),
          worst == null ? "" : String.format(Locale.ROOT, ", worst single omission stage %s:"
              + " %.2f", worst.stages().get(0), worst.perplexity()),
          r.sequences(), (System.nanoTime() - t0) / 1e9, metricsFile);
    }
  }

  private byte[] read(String uri) throws IOException {
    Path p = new Path(HadoopConfs.toUri(uri));
    try (InputStream in = p.getFileSystem(conf).open(p)) {
      return in.readAllBytes();
    }
  }
}
