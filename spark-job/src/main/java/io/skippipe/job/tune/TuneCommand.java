package io.skippipe.job.tune;

import io.skippipe.job.cli.SkipPipeCli;
import io.skippipe.job.config.ConfigKeys;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.Presets;
import io.skippipe.scheduler.tune.Tuner;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe tune --cluster C --model M [--data URI] [--json-field F] [--tokenizer FILE]
 * [--target-loss L | --budget-seconds S] [--probe-steps N] [--max-skip-ratio K]
 * [--activation-checkpointing both|on|off] [--method M] [--seed N] [--learning-rate LR] [--out plan.json] [--json]}: the command line only; the work is
 * {@link Tuning#run}. Prints the frontier table (or, with {@code --json}, progress lines then one
 * JSON line, see {@code scheduler.tune.TuneReport}) and writes the chosen plan.
 */
@Command(name = "tune", sortOptions = false, sortSynopsis = false,
    description = "Choose the path length and swaps: plan the frontier of skip ratios, optionally"
        + " probe their convergence, print the table and write the chosen plan.")
public final class TuneCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--cluster", required = true, paramLabel = "C", order = 1,
      description = "Cluster profile: a preset name (conf/clusters/) or a JSON file.")
  String cluster;

  @Option(names = "--model", required = true, paramLabel = "M", order = 2,
      description = "Model spec: a preset name (conf/models/) or a JSON file.")
  String model;

  @Option(names = "--data", paramLabel = "URI", order = 3,
      description = "Text the convergence probes train on (default: the bundled corpus).")
  String data = "";

  @Option(names = "--json-field", paramLabel = "F", order = 4,
      description = "Field of JSON-lines data (default: ${DEFAULT-VALUE}).")
  String jsonField = ConfigKeys.DATA_JSON_FIELD.defaultValue();

  @Option(names = "--tokenizer", paramLabel = "FILE", order = 5,
      description = "tokenizer.json for --data (default: the bundled one).")
  String tokenizer = "";

  @ArgGroup(exclusive = true, order = 6)
  Goal goal; // null: the fastest plan (throughput only)

  /** What the choice optimises: a target loss or a time budget, not both. */
  static final class Goal {
    @Option(names = "--target-loss", paramLabel = "L", order = 6,
        description = "Choose the plan that reaches this loss soonest (needs probes).")
    Double targetLoss;

    @Option(names = "--budget-seconds", paramLabel = "S", order = 7,
        description = "Choose the plan with the lowest loss after S seconds (needs probes).")
    Double budgetSeconds;
  }

  @Option(names = "--probe-steps", paramLabel = "N", order = 8,
      description = "Steps of each convergence probe; 0 = throughput only"
          + " (default: ${DEFAULT-VALUE}).")
  int probeSteps = 30;

  @Option(names = "--max-skip-ratio", paramLabel = "K", order = 9,
      description = "Largest skip ratio tried, in [0, 1) (default: 1/3).")
  double maxSkipRatio = 1.0 / 3;

  @Option(names = "--activation-checkpointing", paramLabel = "both|on|off", order = 9,
      description = "Activation checkpointing settings searched (default: ${DEFAULT-VALUE}).")
  String activationCheckpointing = "both";

  @Option(names = "--method", paramLabel = "M", order = 10,
      description = "Planning method (default: ${DEFAULT-VALUE}).")
  String method = "skippipe";

  @Option(names = "--seed", paramLabel = "N", order = 11,
      description = "Seed of the planner and the probes (default: ${DEFAULT-VALUE}).")
  long seed = PlannerConfig.DEFAULT_SEED;

  @Option(names = "--learning-rate", paramLabel = "LR", order = 12,
      description = "Learning rate of the probes (default: ${DEFAULT-VALUE}).")
  double learningRate = Double.parseDouble(ConfigKeys.TRAIN_LEARNING_RATE.defaultValue());

  @Option(names = "--out", paramLabel = "FILE", order = 13,
      description = "Where to write the chosen plan (default: ${DEFAULT-VALUE}).")
  String out = "plan.json";

  @Option(names = "--json", order = 14,
      description = "Progress lines, then one JSON line (scheduler.tune.TuneReport).")
  boolean json;

  /** Checked arguments; defaults as documented in docs/PLANNER.md. */
  record Options(String cluster, String model, String data, String jsonField, String tokenizer,
      Double targetLoss, Double budgetSeconds, int probeSteps, double maxSkipRatio, String method,
      long seed, double learningRate, String out, boolean json,
      String activationCheckpointing) {
    Options {
      if (!List.of("both", "on", "off").contains(activationCheckpointing)) {
        throw new IllegalArgumentException("--activation-checkpointing "
            + activationCheckpointing + ": must be both, on or off. Fix: give one of them (both"
            + " searches the two settings)");
      }
      if (probeSteps != 0 && probeSteps < 4) {
        throw new IllegalArgumentException("--probe-steps " + probeSteps + ": a probe needs"
            + " at least 4 steps. Fix: use 0 (throughput only) or 4 or more");
      }
      if (targetLoss != null && !(targetLoss > 0)) {
        throw new IllegalArgumentException("--target-loss " + targetLoss + ": must be a"
            + " positive loss (nats). Fix: give e.g. --target-loss 5.5");
      }
      if (budgetSeconds != null && !(budgetSeconds > 0)) {
        throw new IllegalArgumentException("--budget-seconds " + budgetSeconds + ": must be"
            + " positive. Fix: give e.g. --budget-seconds 3600");
      }
      if (!(maxSkipRatio >= 0 && maxSkipRatio < 1)) {
        throw new IllegalArgumentException("--max-skip-ratio " + maxSkipRatio + ": must be"
            + " in [0, 1). Fix: give e.g. 0.333");
      }
    }
  }

  @Override
  public Integer call() throws IOException {
    Options o = new Options(cluster, model, data, jsonField, tokenizer,
        goal == null ? null : goal.targetLoss, goal == null ? null : goal.budgetSeconds, probeSteps, maxSkipRatio, method, seed, learningRate, out, json,
        activationCheckpointing);
    PrintStream stdout = SkipPipeCli.printStream(spec.commandLine().getOut());
    PrintStream stderr = SkipPipeCli.printStream(spec.commandLine().getErr());
    Tuning.Outcome r = Tuning.run(request(o), o.json() ? stdout : stderr);
    Path file = Path.of(o.out());
    if (file.getParent() != null) {
      Files.createDirectories(file.getParent());
    }
    try (OutputStream os = Files.newOutputStream(file)) {
      PlanCodec.write(r.choice(), os);
    }
    if (o.json()) {
      stdout.println(r.report().toJson().toString());
    } else {
      r.report().printTable(stdout);
      stdout.println("plan of the choice -> " + o.out());
    }
    stdout.flush();
    stderr.flush();
    return 0;
  }

  static Tuning.Request request(Options o) throws IOException {
    byte[] tokenizer = o.tokenizer().isEmpty() ? null : Files.readAllBytes(Path.of(o.tokenizer()));
    var model = Presets.model(o.model());
    ConvergenceProbe.Settings probe = o.probeSteps() == 0 ? null
        : new ConvergenceProbe.Settings(o.probeSteps(), o.seed(), o.learningRate(), adamW(),
            Double.parseDouble(ConfigKeys.TRAIN_GRAD_CLIP_NORM.defaultValue()));
    return new Tuning.Request(Presets.cluster(o.cluster()), model,
        PlannerConfig.defaults(o.method()).withSeed(o.seed()), o.maxSkipRatio(), o.targetLoss(),
        o.budgetSeconds(), probe, seqLen -> ProbeData.load(o.data(), o.jsonField(), tokenizer,
            seqLen, model.vocab()), switch (o.activationCheckpointing()) {
              case "on" -> List.of(true);
              case "off" -> List.of(false);
              default -> Tuner.BOTH;
            });
  }

  /** AdamW with the job's default hyper-parameters (conf/skippipe-defaults.properties). */
  static AdamWConfig adamW() {
    return new AdamWConfig(Double.parseDouble(ConfigKeys.TRAIN_BETA1.defaultValue()),
        Double.parseDouble(ConfigKeys.TRAIN_BETA2.defaultValue()),
        Double.parseDouble(ConfigKeys.TRAIN_EPSILON.defaultValue()),
        Double.parseDouble(ConfigKeys.TRAIN_WEIGHT_DECAY.defaultValue()));
  }
}
