package io.skippipe.model.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.MicrobatchReader;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.OmissionEval;
import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.train.PathTrainer;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench convergence}: the paper's convergence and layer-omission experiments in miniature.
 * The same model (same init seed) is trained twice on the same microbatches of the bundled corpus
 * for a fixed number of steps: once with SkipPipe-style paths (each microbatch visits
 * {@code pathLength} of the K stages, drawn from the paths the convergence rules allow, swaps
 * included) and once with full paths. Then both are evaluated on the held-out split with all
 * stages and with half of the model omitted (the paper's {@code skip = 50}: stage 0 kept, K/2 of
 * the non-first stages dropped, averaged over seeded random subsets shared by both models).
 */
@Command(name = "convergence", sortOptions = false,
    sortSynopsis = false,
    description = "Train the same model with SkipPipe paths and with full paths on the same "
        + "microbatches; held-out perplexity with all stages and with half of them omitted.")
public final class ConvergenceBench implements Callable<Integer> {
  @Mixin BenchOptions common;

  @Option(names = "--model", paramLabel = "M", order = 1,
      description = "Model preset or spec file (default: ${DEFAULT-VALUE}).")
  String modelName = "llama-tiny";

  @Option(names = "--steps", paramLabel = "N", order = 2,
      description = "Optimizer steps per method (default: ${DEFAULT-VALUE}).")
  int steps = 300;

  @Option(names = "--microbatches", paramLabel = "N", order = 3,
      description = "Microbatches per step (default: ${DEFAULT-VALUE}).")
  int microbatches = 4;

  @Option(names = "--batch", paramLabel = "B", order = 4,
      description = "Sequences per microbatch (default: ${DEFAULT-VALUE}).")
  int batch = 4;

  @Option(names = "--path-length", paramLabel = "L", order = 5,
      description = "Stages each SkipPipe path visits (default: stages - stages/3).")
  Integer pathLengthOption;

  @Option(names = "--lr", paramLabel = "LR", order = 6,
      description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
  double lr = 3e-3;

  @Option(names = "--seed", paramLabel = "N", order = 7,
      description = "Seeds init, data order, paths and omitted subsets (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--eval-sequences", paramLabel = "N", order = 8,
      description = "Held-out sequences evaluated (default: ${DEFAULT-VALUE}).")
  int evalSequences = 256;

  @Option(names = "--omit-subsets", paramLabel = "N", order = 9,
      description = "Seeded half-omitted stage subsets averaged (default: ${DEFAULT-VALUE}).")
  int omitSubsets = 3;

  @Override
  public Integer call() {
    LlamaConfig model = LlamaConfig.preset(modelName);
    int steps = common.positive("--steps", this.steps);
    int microbatches = common.positive("--microbatches", this.microbatches);
    int batch = common.positive("--batch", this.batch);
    int stages = model.stages();
    int pathLength = common.positive("--path-length",
        pathLengthOption == null ? Math.max(1, stages - stages / 3) : pathLengthOption);
    double lr = common.positive("--lr", this.lr);
    long seed = this.seed;
    int evalSequences = common.positive("--eval-sequences", this.evalSequences);
    int omitSubsets = common.positive("--omit-subsets", this.omitSubsets);
    if (pathLength > stages) {
      throw common.usage("--path-length " + pathLength + " exceeds the model's " + stages
          + " stages; choose 1.." + stages);
    }
    if (stages < 2) {
      throw common.usage("model has " + stages + " stage; skipping needs at least 2");
    }
    PrintWriter out = common.spec.commandLine().getOut();
    int threads = common.applyThreads();
    long t0 = System.nanoTime();
    PackedDataset train;
    PackedDataset valid;
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      if (tok.vocabSize() != model.vocab()) {
        throw common.usage("model vocab " + model.vocab() + " differs from the bundled"
            + " tokenizer's " + tok.vocabSize() + "; use a model with vocab " + tok.vocabSize());
      }
      train = PackedDataset.of(tok, Corpus.trainDocuments(), model.seqLen());
      valid = PackedDataset.of(tok, Corpus.validationDocuments(), model.seqLen());
    }
    List<int[]> evalSeqs = Perplexity.spread(valid, evalSequences);
    List<int[]> valid4 = SkipPaths.enumerate(stages, pathLength, 2, 1, 2, 4);
    List<int[]> omitted = OmissionEval.halfSubsets(stages, omitSubsets,
        new SplittableRandom(seed ^ 0x0A17L));
    double prepSeconds = (System.nanoTime() - t0) / 1e9;

    ObjectNode result = new ObjectMapper().createObjectNode();
    result.put("steps", steps);
    result.put("model", model.dim() + "d/" + model.layers() + "L/" + stages + " stages");
    result.put("microbatchesPerStep", microbatches);
    result.put("sequencesPerMicrobatch", batch);
    result.put("seqLen", model.seqLen());
    result.put("pathLength", pathLength);
    result.put("validPaths", valid4.size());
    result.put("seed", seed);
    result.put("threads", threads);
    result.put("trainSequences", train.size());
    result.put("evalTokens", (long) evalSeqs.size() * model.seqLen());
    ArrayNode om = result.putArray("omittedStageSubsets");
    omitted.forEach(s -> om.add(Arrays.toString(s)));
    result.put("prepareSeconds", prepSeconds);
    if (!common.json) {
      out.printf("convergence: %s, %d steps x %d microbatches x %d seqs x %d tokens; SkipPipe paths"
          + " of %d/%d stages (%d valid paths); eval %d held-out sequences%n", result.get("model")
          .asText(), steps, microbatches, batch, model.seqLen(), pathLength, stages,
          valid4.size(), evalSeqs.size());
    }
    for (String method : List.of("skippipe", "full")) {
      result.set(method, train(method, model, train, evalSeqs, valid4, omitted, steps,
          microbatches, batch, lr, seed, common.json ? null : out));
    }
    if (common.json) {
      out.println(result.toString());
    } else {
      for (String m : List.of("skippipe", "full")) {
        ObjectNode r = (ObjectNode) result.get(m);
        out.printf("%-9s finalLoss %.4f  perplexity all stages %.2f  half omitted %.2f  (%.0f s)%n",
            m, r.get("finalLoss").asDouble(), r.get("perplexityFull").asDouble(),
            r.get("perplexityHalfOmitted").asDouble(), r.get("trainSeconds").asDouble());
      }
    }
    return 0;
  }

  private static ObjectNode train(String method, LlamaConfig model, PackedDataset data,
      List<int[]> evalSeqs, List<int[]> validPaths, List<int[]> omitted, int steps,
      int microbatches, int batch, double lr, long seed, PrintWriter progress) {
    ObjectNode r = new ObjectMapper().createObjectNode();
    LrSchedule schedule = new LrSchedule(lr, lr / 10, Math.max(1, steps / 20), steps);
    PathTrainer.Config cfg = new PathTrainer.Config(seed, AdamWConfig.llamaDefaults(), schedule,
        1.0);
    MicrobatchReader reader = new MicrobatchReader(data, batch, seed); // same data for both
    SplittableRandom pathRng = new SplittableRandom(seed ^ 0x5EEDL);
    long t0 = System.nanoTime();
    ArrayNode curve = r.putArray("lossEvery10Steps");
    double window = 0;
    int inWindow = 0;
    double first = Double.NaN;
    try (PathTrainer trainer = new PathTrainer(model, cfg)) {
      for (int s = 0; s < steps; s++) {
        List<PathTrainer.Microbatch> mbs = new ArrayList<>();
        for (int m = 0; m < microbatches; m++) {
          int[] path = method.equals("full") ? PathTrainer.fullPath(model.stages())
              : SkipPaths.draw(validPaths, pathRng);
          mbs.add(new PathTrainer.Microbatch(m, reader.next(), path));
        }
        double loss = trainer.step(mbs).meanLoss();
        if (s == 0) {
          first = loss;
        }
        window += loss;
        inWindow++;
        if (inWindow == 10 || s == steps - 1) {
          curve.add(Math.round(window / inWindow * 1e4) / 1e4);
          if (s >= steps - 10 || steps <= 10) {
            r.put("finalLoss", window / inWindow);
          }
          if (progress != null && (s + 1) % 50 == 0) {
            progress.printf("  %-9s step %4d  loss %.4f%n", method, s + 1, window / inWindow);
          }
          window = 0;
          inWindow = 0;
        }
      }
      r.put("firstLoss", first);
      r.put("trainSeconds", (System.nanoTime() - t0) / 1e9);
      Perplexity.Result full = Perplexity.evaluate(trainer.stages(), evalSeqs, Set.of(), 16);
      r.put("perplexityFull", full.perplexity());
      double nllSum = 0;
      ArrayNode each = r.putArray("perplexityPerOmittedSubset");
      for (int[] subset : omitted) {
        Set<Integer> set = new HashSet<>();
        Arrays.stream(subset).forEach(set::add);
        Perplexity.Result p = Perplexity.evaluate(trainer.stages(), evalSeqs, set, 16);
        each.add(p.perplexity());
        nllSum += p.meanNll();
      }
      // geometric mean over subsets = perplexity of the mean NLL (equal token counts)
      r.put("perplexityHalfOmitted", Math.exp(nllSum / omitted.size()));
    }
    return r;
  }
}
