package io.skippipe.job.cli;

import io.skippipe.job.export.CheckpointExport;
import io.skippipe.model.weights.ModelExport;
import io.skippipe.scheduler.cli.ExitCodes;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code bin/skippipe export}: a committed checkpoint as a Hugging Face model folder. */
@Command(name = "export", sortOptions = false, sortSynopsis = false,
    description = "Write the newest committed step (or the given step-NNNNNN directory) as a "
        + "Hugging Face folder for LlamaForCausalLM.from_pretrained.")
final class ExportCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--checkpoint", required = true, paramLabel = "DIR", order = 1,
      description = "The run's checkpoint root (RUN_DIR/checkpoints) or one committed "
          + "step-NNNNNN directory; any Hadoop URI.")
  String checkpoint;

  @Option(names = "--out", required = true, paramLabel = "DIR", order = 2,
      description = "Folder to write: a local path or any Hadoop URI (hdfs://, s3a://).")
  String out;

  @Option(names = "--model", paramLabel = "M", order = 3,
      description = "Model preset or spec file (default: the model in RUN_DIR/plan.json).")
  String model;

  @Option(names = "--tokenizer", paramLabel = "FILE", order = 4,
      description = "tokenizer.json to ship, any Hadoop URI (default: RUN_DIR/tokenizer.json, "
          + "the one the run trained with).")
  String tokenizer;

  @Option(names = "--max-shard-bytes", paramLabel = "N", order = 5,
      description = "Largest safetensors file before sharding (default: ${DEFAULT-VALUE}).")
  long maxShardBytes = ModelExport.DEFAULT_MAX_SHARD_BYTES;

  @Mixin HadoopOptions hadoop;

  @Override
  public Integer call() throws IOException {
    if (maxShardBytes <= 0) {
      throw new ParameterException(spec.commandLine(), "--max-shard-bytes is " + maxShardBytes
          + "; it must be a positive number of bytes");
    }
    CheckpointExport.Result r = CheckpointExport.export(checkpoint, out, model, tokenizer,
        maxShardBytes, hadoop.conf());
    spec.commandLine().getOut().printf("exported step %d (%d stages, %,d parameters) of %s to %s:"
        + " %s%n", r.step(), r.stages(), r.parameters(), checkpoint, out,
        String.join(", ", r.files()));
    return ExitCodes.OK;
  }
}
