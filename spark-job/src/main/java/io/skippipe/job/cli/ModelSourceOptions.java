package io.skippipe.job.cli;

import io.skippipe.job.eval.LoadedModel;
import io.skippipe.job.spark.HadoopConfs;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Which trained model a command loads (picocli mixin of {@code eval} and {@code generate}): a
 * committed checkpoint step or a Hugging Face folder, with the tokenizer that goes with it.
 */
final class ModelSourceOptions {
  @ArgGroup(exclusive = true, multiplicity = "1", order = 1)
  Where where;

  /** Exactly one of the two. */
  static final class Where {
    @Option(names = "--checkpoint", paramLabel = "DIR", order = 1,
        description = "The run's checkpoint root (RUN_DIR/checkpoints: its newest committed step) "
            + "or one step-NNNNNN directory; any Hadoop URI.")
    String checkpoint;

    @Option(names = "--model-dir", paramLabel = "HF_DIR", order = 2,
        description = "A Hugging Face folder (bin/skippipe export writes one); a local path or "
            + "any Hadoop URI.")
    String modelDir;
  }

  @Option(names = "--step", paramLabel = "N", order = 3,
      description = "With --checkpoint: this committed step instead of the newest.")
  Long step;

  @Option(names = "--model", paramLabel = "M", order = 4,
      description = "With --checkpoint: the model spec (default: the one in RUN_DIR/plan.json).")
  String model;

  @Option(names = "--layers-per-stage", paramLabel = "N", order = 5,
      description = "With --model-dir: layers per stage, which defines the stages that can be "
          + "omitted (default: ${DEFAULT-VALUE}, every layer a stage).")
  int layersPerStage = 1;

  @Option(names = "--tokenizer", paramLabel = "FILE", order = 6,
      description = "tokenizer.json of the model, any Hadoop URI (default: the folder's with "
          + "--model-dir, else the bundled one).")
  String tokenizer;

  @Mixin HadoopOptions hadoop;

  /** The Hadoop configuration with the {@code -D} settings. */
  Configuration conf() {
    return hadoop.conf();
  }

  /** Loads the model; bad paths, uncommitted steps and wrong flags are IllegalArgumentExceptions. */
  LoadedModel load() throws IOException {
    Configuration conf = conf();
    byte[] tok = tokenizer == null ? null : read(tokenizer, conf);
    if (where.modelDir != null) {
      if (step != null || model != null) {
        throw new IllegalArgumentException("--step and --model go with --checkpoint; a"
            + " --model-dir folder holds one model with its config.json");
      }
      LoadedModel m = LoadedModel.fromHfFolder(where.modelDir, layersPerStage, null, conf);
      return tok == null ? m : new LoadedModel(m.config(), m.step(), m.source(), m.stages(), tok);
    }
    return LoadedModel.load(LoadedModel.resolve(where.checkpoint, step, model, conf), tok, conf);
  }

  private static byte[] read(String uri, Configuration conf) throws IOException {
    Path p = new Path(HadoopConfs.toUri(uri));
    if (!p.getFileSystem(conf).exists(p)) {
      throw new IllegalArgumentException("--tokenizer " + uri + " does not exist; give the"
          + " tokenizer.json the model was trained with");
    }
    try (InputStream in = p.getFileSystem(conf).open(p)) {
      return in.readAllBytes();
    }
  }
}
