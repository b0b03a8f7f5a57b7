package io.skippipe.job.cli;

import io.skippipe.job.tune.TuneCommand;
import io.skippipe.scheduler.cli.CompareCommand;
import io.skippipe.scheduler.cli.ExitCodes;
import io.skippipe.scheduler.cli.PlanCommand;
import io.skippipe.scheduler.cli.SimulateCommand;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.commons.io.output.WriterOutputStream;
import picocli.AutoComplete.GenerateCompletion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;

/**
 * The entry point behind {@code bin/skippipe}: one picocli command tree over every module's
 * commands. Exit codes (DESIGN.md §5.3, {@link ExitCodes}): 0 ok, 1 failure, 2 bad input (message
 * only, no stack trace).
 *
 * <p>Adding a command: write one {@code @Command} class implementing {@code Callable<Integer>}
 * (options as annotated fields; throw {@link IllegalArgumentException} or picocli's {@code
 * ParameterException} for bad input; print to {@code spec.commandLine().getOut()}), then add the
 * class to {@code subcommands} below — or to {@link BenchCommand}'s for a benchmark. {@code
 * --help}, shell completion and the command list in README.md (checked by {@code CliTest}) follow
 * from the annotations.
 */
@Command(name = "skippipe",
    description = "SkipPipe on Spark: plan, simulate and train with partial, reordered pipelines.",
    synopsisSubcommandLabel = "COMMAND",
    footer = {"%nExit codes: 0 ok, 1 failure, 2 bad input (the message says what to fix).",
        "Every command has --help. Bash completion: source <(bin/skippipe generate-completion)"},
    subcommands = {
        PlanCommand.class,
        SimulateCommand.class,
        CompareCommand.class,
        TuneCommand.class,
        TimelineCommand.class,
        TrainCommand.class,
        EvalCommand.class,
        GenerateCommand.class,
        ExportCommand.class,
        BenchCommand.class,
        HelpCommand.class,
        GenerateCompletion.class,
    })
public final class SkipPipeCli {
  /** {@code bin/skippipe}'s main: runs the command and exits with its code. */
  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs one command line; returns its exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    CommandLine cl = commandLine(out, err);
    try {
      return cl.execute(args);
    } finally {
      cl.getOut().flush();
      cl.getErr().flush();
    }
  }

  /**
   * A PrintStream onto a command's writer, for code that prints to streams (the training job,
   * the tuner). Flush it before the command returns.
   */
  public static PrintStream printStream(PrintWriter writer) {
    try {
      return new PrintStream(WriterOutputStream.builder().setWriter(writer)
          .setCharset(StandardCharsets.UTF_8).get(), true, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The configured command tree (for tests: its specs list every command and option). */
  public static CommandLine commandLine(PrintStream out, PrintStream err) {
    CommandLine cl = ExitCodes.configure(new CommandLine(new SkipPipeCli()), out, err);
    cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST,
        help -> "%nCommands:%n".formatted() + CommandList.render(cl));
    cl.getHelpSectionMap().remove(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING);
    cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false);
    return cl;
  }
}
