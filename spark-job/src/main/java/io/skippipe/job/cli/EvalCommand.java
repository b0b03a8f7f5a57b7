package io.skippipe.job.cli;

import io.skippipe.job.eval.HeldOutText;
import io.skippipe.job.eval.LoadedModel;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.OmissionEval;
import io.skippipe.scheduler.cli.ExitCodes;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe eval}: held-out perplexity of a trained model with all stages, each single
 * stage omitted, half of the stages omitted (seeded subsets) and any sets given — one table, or
 * the JSON document of {@link OmissionEval} with {@code --json}.
 */
@Command(name = "eval", sortOptions = false, sortSynopsis = false,
    description = "Held-out perplexity with all stages, each single stage omitted, half of the "
        + "stages omitted (seeded subsets) and the sets you give (layer omission).")
final class EvalCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin ModelSourceOptions source;

  @Option(names = "--data", paramLabel = "URI", order = 10,
      description = "Held-out text: a file or directory, documents separated by form-feed lines "
          + "(default: the bundled corpus's validation split).")
  String data = "";

  @Option(names = "--omit-stages", paramLabel = "S[,S...]", order = 11,
      description = "Also evaluate with these stages omitted, e.g. 2,4; repeatable. Stage 0 "
          + "(embedding, final norm, LM head) cannot be omitted.")
  List<String> omitStages = new ArrayList<>();

  @Option(names = "--half-subsets", paramLabel = "N", order = 12,
      description = "Seeded subsets of half of the stages omitted (default: ${DEFAULT-VALUE}).")
  int halfSubsets = 3;

  @Option(names = "--sequences", paramLabel = "N", order = 13,
      description = "Held-out sequences of seqLen+1 tokens, spread over the text "
          + "(default: ${DEFAULT-VALUE}).")
  int sequences = 64;

  @Option(names = "--batch", paramLabel = "N", order = 14,
      description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
  int batch = 8;

  @Option(names = "--seed", paramLabel = "N", order = 15,
      description = "Seeds the half-omitted subsets (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--json", order = 16,
      description = "Print one JSON document {step, perplexity, omitted:[{kind, stages, "
          + "perplexity, meanNll}], ...} (schema: docs/EVAL.md).")
  boolean json;

  @Override
  public Integer call() throws IOException {
    List<Set<Integer>> given = new ArrayList<>();
    for (String list : omitStages) {
      given.add(parseStages(list));
    }
    if (sequences < 1 || batch < 1 || halfSubsets < 0) {
      throw new ParameterException(spec.commandLine(), "--sequences " + sequences + ", --batch "
          + batch + " and --half-subsets " + halfSubsets + ": the first two must be at least 1,"
          + " the last at least 0");
    }
    long t0 = System.nanoTime();
    try (LoadedModel m = source.load()) {
      given.forEach(m::checkOmitted);
      List<int[]> seqs;
      try (TextTokenizer tok = m.tokenizer()) {
        seqs = HeldOutText.sequences(HeldOutText.documents(data, source.conf()), tok,
            m.config().seqLen(), sequences);
      }
      OmissionEval.Report r = OmissionEval.run(m.stages(), seqs,
          new OmissionEval.Settings(halfSubsets, seed, given, batch));
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        out.println(OmissionEval.toJson(r, m.step(), m.source()));
      } else {
        out.printf(Locale.ROOT, "%s%s: %d stages, %d held-out sequences (%d tokens) of %s,"
                + " %.1f s%n", m.step() >= 0 ? "step " + m.step() + " of " : "", m.source(),
            r.stages(), r.sequences(), r.tokens(), data.isEmpty() ? "the bundled validation split"
                : data, (System.nanoTime() - t0) / 1e9);
        out.print(OmissionEval.toTable(r));
        out.flush();
      }
    }
    return ExitCodes.OK;
  }

  /** "2,4" → {2, 4}; anything else is bad input. */
  private Set<Integer> parseStages(String list) {
    Set<Integer> s = new TreeSet<>();
    for (String part : list.split(",")) {
      try {
        s.add(Integer.parseInt(part.trim()));
      } catch (NumberFormatException e) {
        throw new ParameterException(spec.commandLine(), "--omit-stages '" + list + "' must be"
            + " stage numbers separated by commas, e.g. --omit-stages 2,4");
      }
    }
    return s;
  }
}
