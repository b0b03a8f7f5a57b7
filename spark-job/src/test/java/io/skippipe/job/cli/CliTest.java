package io.skippipe.job.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The command line as a whole: every command answers {@code --help}, README.md's command list is
 * the one the CLI generates, and every {@code bin/skippipe} command and flag that README.md and
 * docs/ mention exists.
 */
class CliTest {
  private static final Path ROOT = Path.of(System.getProperty("skippipe.repo.root"));
  private static final Pattern INVOCATION = Pattern.compile("bin/skippipe((?: [^`|\\n#]*)?)");

  record Result(int code, String out, String err) {}

  static Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = SkipPipeCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Result(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  private static CommandLine tree() {
    return SkipPipeCli.commandLine(System.out, System.err);
  }

  private static List<CommandLine> leaves() {
    List<CommandLine> leaves = new ArrayList<>();
    CommandList.collect(tree(), leaves);
    return leaves;
  }

  @Test
  void everyCommandAnswersHelpWithExitZero() {
    List<CommandLine> leaves = leaves();
    assertTrue(leaves.size() >= 10, "commands: " + leaves.size());
    for (CommandLine c : leaves) {
      List<String> args = new ArrayList<>(Arrays.asList(CommandList.path(c).split(" ")));
      args.add("--help");
      Result r = run(args.toArray(String[]::new));
      assertEquals(0, r.code, args + ": " + r.err);
      assertTrue(r.out.contains("Usage: skippipe " + CommandList.path(c)), args + ": " + r.out);
    }
    Result root = run("--help");
    assertEquals(0, root.code, root.err);
    assertTrue(root.out.contains(CommandList.render(tree())), root.out);
    assertEquals(2, run().code, "no command is bad input");
    Result unknown = run("plna");
    assertEquals(2, unknown.code);
    assertTrue(unknown.err.contains("Did you mean: skippipe plan"), unknown.err);
  }

  @Test
  void readmeCommandListIsTheGeneratedOne() throws IOException {
    String readme = Files.readString(ROOT.resolve("README.md"));
    int heading = readme.indexOf("\n## Commands\n");
    assertTrue(heading >= 0, "README.md has a '## Commands' section");
    int open = readme.indexOf("```\n", heading) + 4;
    int close = readme.indexOf("```\n", open);
    String block = readme.substring(open, close);
    assertEquals(CommandList.render(tree()), block, "README.md's command list is generated:"
        + " paste the 'Commands:' part of `bin/skippipe --help` into its ```block```");
  }

  @Test
  void everyCommandAndFlagInTheDocsExists() throws IOException {
    List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
    try (Stream<Path> s = Files.list(ROOT.resolve("docs"))) {
      s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
    }
    CommandLine tree = tree();
    int checked = 0;
    List<String> problems = new ArrayList<>();
    for (Path doc : docs) {
      String text = Files.readString(doc).replaceAll("\\\\\\n\\s*", " ");
      Matcher m = INVOCATION.matcher(text);
      while (m.find()) {
        List<String> words = new ArrayList<>(Arrays.asList(m.group(1).trim().split("\\s+")));
        words.removeIf(String::isEmpty);
        CommandLine cmd = tree;
        while (!words.isEmpty() && cmd.getSubcommands().containsKey(words.get(0))) {
          cmd = cmd.getSubcommands().get(words.remove(0));
        }
        if (!words.isEmpty() && cmd == tree && words.get(0).matches("[a-z][a-z0-9-]*")) {
          problems.add(doc.getFileName() + ": no command '" + words.get(0) + "' in '"
              + m.group().trim() + "'");
          continue;
        }
        for (String w : words) {
          String flag = w.replaceAll("^\\[+", "").replaceAll("[\\]=.,;:)]+.*$", "");
          if (flag.startsWith("-") && flag.length() > 1
              && cmd.getCommandSpec().findOption(flag) == null) {
            problems.add(doc.getFileName() + ": '" + CommandList.path(cmd) + "' has no option "
                + flag + " (in '" + m.group().trim() + "')");
          }
        }
        checked++;
      }
    }
    assertTrue(problems.isEmpty(), String.join("\n", problems));
    assertTrue(checked >= 15, "mentions checked: " + checked);
  }
}
