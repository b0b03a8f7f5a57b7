package io.skippipe.scheduler.cli;

import java.io.FileNotFoundException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * How every {@code bin/skippipe} command ends (DESIGN.md §5.3): exit code 0 ok, 1 failure, 2 bad
 * input. Bad input is a picocli parse error or an {@link IllegalArgumentException} (the project's
 * user-error type: {@code PlanningException}, {@code ConfigException}, ...) or a missing input file
 * anywhere in a command; it prints {@code skippipe CMD: message} and a pointer to {@code --help},
 * never a stack trace. Anything else is a failure: the exception and its stack trace.
 * {@code SKIPPIPE_DEBUG=1} adds the stack trace to bad-input errors too.
 *
 * <p>Every command line of the project is built through {@link #configure}, so the rule lives in
 * one place.
 */
public final class ExitCodes {
  /** The command did what it was asked. */
  public static final int OK = 0;

  /** The command failed on valid input (I/O, a bug, a failed job). */
  public static final int FAILURE = 1;

  /** The command line, a file it names, or a setting is invalid; the message says how to fix it. */
  public static final int BAD_INPUT = 2;

  private ExitCodes() {}

  /**
   * Sets {@code cl}'s output streams, exit codes and error messages as described above, a usage
   * width of 100 columns, and gives every command of the tree a {@code -h, --help} option.
   * Returns {@code cl}.
   */
  public static CommandLine configure(CommandLine cl, PrintStream out, PrintStream err) {
    addHelpOption(cl);
    PrintWriter errWriter = new PrintWriter(err, true, StandardCharsets.UTF_8);
    return cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8))
        .setErr(errWriter)
        .setUsageHelpWidth(100)
        .setParameterExceptionHandler((ex, args) -> {
          CommandLine cmd = ex.getCommandLine();
          errWriter.println(name(cmd) + ": " + ex.getMessage());
          UnmatchedArgumentException.printSuggestions(ex, errWriter);
          errWriter.println("Usage: " + cmd.getHelp().synopsis(0).trim());
          errWriter.println("Run 'bin/" + name(cmd) + " --help' for every option.");
          return BAD_INPUT;
        })
        .setExecutionExceptionHandler((ex, cmd, parsed) -> {
          boolean debug = System.getenv("SKIPPIPE_DEBUG") != null;
          if (isBadInput(ex)) {
            errWriter.println(name(cmd) + ": " + message(ex));
            if (debug) {
              ex.printStackTrace(errWriter);
            }
            return BAD_INPUT;
          }
          errWriter.println(name(cmd) + ": failed: " + ex);
          ex.printStackTrace(errWriter);
          return FAILURE;
        });
  }

  private static void addHelpOption(CommandLine cl) {
    CommandSpec spec = cl.getCommandSpec();
    if (spec.options().stream().noneMatch(OptionSpec::usageHelp)) {
      spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
          .description("Show this help and exit.").order(Integer.MAX_VALUE).build());
    }
    cl.getSubcommands().values().forEach(ExitCodes::addHelpOption);
  }

  /** Whether {@code t} is the user's fault (exit 2) rather than a failure (exit 1). */
  public static boolean isBadInput(Throwable t) {
    if (t instanceof UncheckedIOException u) {
      t = u.getCause();
    }
    return t instanceof IllegalArgumentException || t instanceof ParameterException
        || t instanceof NoSuchFileException || t instanceof FileNotFoundException;
  }

  private static String message(Throwable t) {
    Throwable c = t instanceof UncheckedIOException ? t.getCause() : t;
    if (c instanceof NoSuchFileException || c instanceof FileNotFoundException) {
      return "no such file: " + c.getMessage() + ". Fix: check the path (relative paths start at "
          + System.getProperty("user.dir") + ")";
    }
    return t.getMessage();
  }

  private static String name(CommandLine cmd) {
    return cmd.getCommandSpec().qualifiedName(" ");
  }
}
