package io.skippipe.job.tune;

import io.skippipe.job.config.ConfigKeys;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.plan.PlannerConfig;
import io.skippipe.scheduler.profile.Presets;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bin/skippipe tune --cluster C --model M [--data URI] [--json-field F] [--tokenizer FILE]
 * [--target-loss L | --budget-seconds S] [--probe-steps N] [--max-skip-ratio K] [--method M]
 * [--seed N] [--learning-rate LR] [--out plan.json] [--json]}: argument parsing and output only;
 * the work is {@link Tuning#run}. Prints the frontier table (or, with {@code --json}, progress
 * lines then one JSON line, see {@code scheduler.tune.TuneReport}) and writes the chosen plan.
 * Exit codes: 0 ok, 2 bad input, 1 failure.
 */
public final class TuneCommand {
  private TuneCommand() {}

  static final List<String> VALUE_FLAGS = List.of("--cluster", "--model", "--data",
      "--json-field", "--tokenizer", "--target-loss", "--budget-seconds", "--probe-steps",
      "--max-skip-ratio", "--method", "--seed", "--learning-rate", "--out");

  /** Parsed arguments; defaults as documented in docs/PLANNER.md. */
  record Options(String cluster, String model, String data, String jsonField, String tokenizer,
      Double targetLoss, Double budgetSeconds, int probeSteps, double maxSkipRatio, String method,
      long seed, double learningRate, String out, boolean json) {

    static Options parse(String[] args) {
      Map<String, String> v = new LinkedHashMap<>();
      boolean json = false;
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (a.equals("--json")) {
          json = true;
        } else if (VALUE_FLAGS.contains(a)) {
          if (i + 1 >= args.length) {
            throw new IllegalArgumentException("option " + a + " needs a value. Fix: write "
                + a + " VALUE");
          }
          v.put(a, args[++i]);
        } else {
          throw new IllegalArgumentException("option " + a + " is unknown for 'skippipe tune'."
              + " Fix: use --json or one of " + VALUE_FLAGS);
        }
      }
      for (String req : List.of("--cluster", "--model")) {
        if (!v.containsKey(req)) {
          throw new IllegalArgumentException("skippipe tune without " + req + ": " + req
              + " is required. Fix: add " + req + " VALUE");
        }
      }
      Options o = new Options(v.get("--cluster"), v.get("--model"), v.getOrDefault("--data", ""),
          v.getOrDefault("--json-field", ConfigKeys.DATA_JSON_FIELD.defaultValue()),
          v.getOrDefault("--tokenizer", ""), number(v, "--target-loss", null),
          number(v, "--budget-seconds", null), (int) (double) number(v, "--probe-steps", 30.0),
          number(v, "--max-skip-ratio", 1.0 / 3), v.getOrDefault("--method", "skippipe"),
          (long) (double) number(v, "--seed", (double) PlannerConfig.DEFAULT_SEED),
          number(v, "--learning-rate",
              Double.parseDouble(ConfigKeys.TRAIN_LEARNING_RATE.defaultValue())),
          v.getOrDefault("--out", "plan.json"), json);
      if (o.probeSteps() != 0 && o.probeSteps() < 4) {
        throw new IllegalArgumentException("--probe-steps " + o.probeSteps() + ": a probe needs"
            + " at least 4 steps. Fix: use 0 (throughput only) or 4 or more");
      }
      if (o.targetLoss() != null && !(o.targetLoss() > 0)) {
        throw new IllegalArgumentException("--target-loss " + o.targetLoss() + ": must be a"
            + " positive loss (nats). Fix: give e.g. --target-loss 5.5");
      }
      if (o.budgetSeconds() != null && !(o.budgetSeconds() > 0)) {
        throw new IllegalArgumentException("--budget-seconds " + o.budgetSeconds() + ": must be"
            + " positive. Fix: give e.g. --budget-seconds 3600");
      }
      if (!(o.maxSkipRatio() >= 0 && o.maxSkipRatio() < 1)) {
        throw new IllegalArgumentException("--max-skip-ratio " + o.maxSkipRatio() + ": must be"
            + " in [0, 1). Fix: give e.g. 0.333");
      }
      return o;
    }

    private static Double number(Map<String, String> v, String flag, Double dflt) {
      String s = v.get(flag);
      if (s == null) {
        return dflt;
      }
      try {
        return Double.parseDouble(s.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(flag + " " + s + ": must be a number. Fix: write e.g. "
            + flag + " 30");
      }
    }
  }

  /** Runs the command; returns the exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      Options o = Options.parse(args);
      Tuning.Outcome r = Tuning.run(request(o), o.json() ? out : err);
      Path file = Path.of(o.out());
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      try (OutputStream os = Files.newOutputStream(file)) {
        PlanCodec.write(r.choice(), os);
      }
      if (o.json()) {
        out.println(r.report().toJson().toString());
      } else {
        r.report().printTable(out);
        out.println("plan of the choice -> " + o.out());
      }
      return 0;
    } catch (IllegalArgumentException e) {
      err.println("skippipe tune: " + e.getMessage());
      return 2;
    } catch (IOException | RuntimeException e) {
      err.println("skippipe tune: failed: " + e);
      e.printStackTrace(err);
      return 1;
    }
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
            seqLen, model.vocab()));
  }

  /** AdamW with the job's default hyper-parameters (conf/skippipe-defaults.properties). */
  static AdamWConfig adamW() {
    return new AdamWConfig(Double.parseDouble(ConfigKeys.TRAIN_BETA1.defaultValue()),
        Double.parseDouble(ConfigKeys.TRAIN_BETA2.defaultValue()),
        Double.parseDouble(ConfigKeys.TRAIN_EPSILON.defaultValue()),
        Double.parseDouble(ConfigKeys.TRAIN_WEIGHT_DECAY.defaultValue()));
  }
}
