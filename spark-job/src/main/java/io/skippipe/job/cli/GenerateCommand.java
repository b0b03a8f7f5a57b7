package io.skippipe.job.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.job.eval.LoadedModel;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.infer.Generator;
import io.skippipe.scheduler.cli.ExitCodes;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Arrays;
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
 * {@code bin/skippipe generate}: text from a trained model after a prompt, optionally with stages
 * omitted ({@link Generator}: KV cache, greedy at temperature 0, seeded sampling otherwise).
 */
@Command(name = "generate", sortOptions = false, sortSynopsis = false,
    description = "Sample text after a prompt from a checkpoint or Hugging Face folder, "
        + "optionally with stages omitted; prints the text and tokens/s.")
final class GenerateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin ModelSourceOptions source;

  @Option(names = "--prompt", required = true, paramLabel = "TEXT", order = 10,
      description = "The text to continue (the tokenizer's end-of-text id goes first, as BOS).")
  String prompt;

  @Option(names = "--omit-stages", paramLabel = "S[,S...]", order = 11,
      description = "Skip these stages, e.g. 2,4 (stage 0 always runs).")
  String omitStages;

  @Option(names = "--max-new-tokens", paramLabel = "N", order = 12,
      description = "Tokens to generate at most; stops early at end-of-text "
          + "(default: ${DEFAULT-VALUE}).")
  int maxNewTokens = 48;

  @Option(names = "--temperature", paramLabel = "T", order = 13,
      description = "Softmax temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
  double temperature = 0.8;

  @Option(names = "--top-k", paramLabel = "K", order = 14,
      description = "Sample among the K most likely tokens; 0 = all (default: ${DEFAULT-VALUE}).")
  int topK = 40;

  @Option(names = "--seed", paramLabel = "S", order = 15,
      description = "Seeds the sampler (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--json", order = 16,
      description = "Print {prompt, text, tokens, omitted, tokensPerSecond, prefillSeconds, "
          + "decodeSeconds, step, source}.")
  boolean json;

  @Override
  public Integer call() throws IOException {
    Set<Integer> omitted = new TreeSet<>();
    if (omitStages != null) {
      for (String part : omitStages.split(",")) {
        try {
          omitted.add(Integer.parseInt(part.trim()));
        } catch (NumberFormatException e) {
          throw new ParameterException(spec.commandLine(), "--omit-stages '" + omitStages
              + "' must be stage numbers separated by commas, e.g. --omit-stages 2,4");
        }
      }
    }
    Generator.Settings settings;
    try {
      settings = new Generator.Settings(maxNewTokens, temperature, topK, seed, -1);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    try (LoadedModel m = source.load(); TextTokenizer tok = m.tokenizer()) {
      m.checkOmitted(omitted);
      int[] text = tok.encode(prompt);
      int[] ids = new int[text.length + 1];
      ids[0] = tok.eosId();
      System.arraycopy(text, 0, ids, 1, text.length);
      Generator.Output out;
      try (Generator g = new Generator(m.stages(), omitted)) {
        out = g.generate(ids, new Generator.Settings(settings.maxNewTokens(),
            settings.temperature(), settings.topK(), settings.seed(), tok.eosId()));
      }
      String completion = tok.decode(out.tokens());
      PrintWriter w = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("prompt", prompt);
        o.put("text", completion);
        Arrays.stream(out.tokens()).forEach(o.putArray("tokens")::add);
        omitted.forEach(o.putArray("omitted")::add);
        o.put("tokensPerSecond", out.tokensPerSecond());
        o.put("prefillSeconds", out.prefillSeconds());
        o.put("decodeSeconds", out.decodeSeconds());
        o.put("step", m.step());
        o.put("source", m.source());
        w.println(o);
      } else {
        w.println(prompt + completion);
        w.printf(Locale.ROOT, "-- %d tokens in %.2f s (%.1f tokens/s; prompt of %d tokens"
                + " encoded in %.2f s), %s, %s, %s%s%n", out.tokens().length,
            out.decodeSeconds(), out.tokensPerSecond(), ids.length, out.prefillSeconds(),
            temperature == 0 ? "greedy" : "temperature " + temperature + ", top-k " + topK
                + ", seed " + seed, omitted.isEmpty() ? "all stages"
                : "stages " + omitted + " omitted", m.step() >= 0 ? "step " + m.step() + " of "
                : "", m.source());
      }
    }
    return ExitCodes.OK;
  }
}
