package io.skippipe.job.cli;

import io.skippipe.job.export.CheckpointExport;
import io.skippipe.model.bench.ModelBench;
import io.skippipe.scheduler.cli.PlannerCli;
import java.util.Arrays;

/**
 * The entry point behind {@code bin/skippipe}: dispatches a sub-command to the module that owns it.
 *
 * <p>Exit codes (DESIGN.md §5.3): 0 ok, 2 bad input, 1 failure.
 */
public final class SkipPipeCli {
  private SkipPipeCli() {}

  static final String USAGE =
      """
      usage: bin/skippipe <command> [options]
        plan      --cluster C --model M [--method ...] [--skip-ratio K | --path-length L] [--seed N] --out plan.json
        simulate  plan.json [--json] [--trace out.json]
        compare   --cluster C --model M [--skip-ratio K] [--seed N] [--json]
        tune      --cluster C --model M [--data URI] [--target-loss L | --budget-seconds S]
                  [--probe-steps N] [--out plan.json] [--json]
        timeline  plan.json|RUN_DIR --out timeline.html
        train     [--conf file.properties] [--set spark.skippipe.key=value ...]
        eval      --checkpoint DIR [--omit-stages 2,4] [--json]
        export    --checkpoint DIR --out DIR [--model M] [--tokenizer FILE] [--max-shard-bytes N]
        bench     model|convergence|e2e|data|transfer|scale [--json]
          e2e: [--cluster C] [--model M] [--cost-model M2] [--iterations N] [--time-scale S]
               [--pad-compute true|false] [--runs skippipe,dtfm|METHOD:PATH_LENGTH,...]
               [--target-loss L] [--seed N]
          transfer: [--sizes MIB,...] [--mib-per-case N] [--rounds N] [--link-mbps N]
               [--link-latency-ms N]
          scale: [--model M] [--seq-len T] [--samples B] [--microbatches N] [--iterations N]
               [--precisions fp32,bf16] [--dir DIR] [--heap SIZE]
      """;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String[] args) {
    if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
      System.out.print(USAGE);
      return args.length == 0 ? 2 : 0;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "plan", "simulate", "compare", "timeline":
        return PlannerCli.run(args, System.out, System.err);
      case "tune":
        return io.skippipe.job.tune.TuneCommand.run(rest, System.out, System.err);
      case "train":
        return TrainCommand.run(rest, System.out, System.err);
      case "export":
        return CheckpointExport.run(rest, System.out, System.err);
      case "bench":
        if (rest.length > 0 && (rest[0].equals("model") || rest[0].equals("convergence"))) {
          return ModelBench.run(rest, System.out, System.err);
        }
        if (rest.length > 0 && rest[0].equals("data")) {
          return io.skippipe.job.bench.DataBench.run(rest, System.out, System.err);
        }
        if (rest.length > 0 && rest[0].equals("transfer")) {
          return io.skippipe.job.bench.TransferBench.run(rest, System.out, System.err);
        }
        if (rest.length > 0 && rest[0].equals("scale")) {
          return io.skippipe.job.bench.ScaleBench.run(rest, System.out, System.err);
        }
        if (rest.length > 0 && rest[0].equals("e2e")) {
          return io.skippipe.job.bench.E2eBench.run(rest, System.out, System.err);
        }
        System.err.println("skippipe bench: unknown benchmark " + Arrays.toString(rest)
            + "; known: model, convergence, e2e, data, transfer, scale");
        return 2;
      default:
        System.err.println("skippipe: unknown command '" + args[0] + "'.\n" + USAGE);
        return 2;
    }
  }
}
