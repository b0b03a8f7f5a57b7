package io.skippipe.job.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * The one-line-per-command synopsis of the whole tree, generated from the picocli specs: what
 * {@code bin/skippipe --help} prints and what README.md's "Commands" block must equal (checked by
 * {@code CliTest}). Required options appear bare, optional ones in brackets, mutually exclusive
 * ones as {@code [a | b]}, repeatable ones with {@code ...}; lines wrap at 100 columns.
 */
final class CommandList {
  static final int WIDTH = 100;
  private static final String PREFIX = "bin/skippipe ";
  /** Command names up to this width line up; longer ones push their first line right. */
  private static final int NAME_WIDTH = 8;

  private CommandList() {}

  /** The list for the tree under {@code root}, one entry per runnable (leaf) command. */
  static String render(CommandLine root) {
    List<CommandLine> leaves = new ArrayList<>();
    collect(root, leaves);
    StringBuilder b = new StringBuilder();
    String indent = " ".repeat(PREFIX.length() + NAME_WIDTH + 1);
    for (CommandLine c : leaves) {
      String head = PREFIX + String.format("%-" + NAME_WIDTH + "s", path(c));
      StringBuilder line = new StringBuilder(head);
      for (String unit : units(c.getCommandSpec())) {
        if (line.length() + 1 + unit.length() > WIDTH && line.length() > head.length()) {
          b.append(line.toString().stripTrailing()).append('\n');
          line = new StringBuilder(indent.substring(1));
        }
        line.append(' ').append(unit);
      }
      b.append(line.toString().stripTrailing()).append('\n');
    }
    return b.toString();
  }

  /** The leaf commands in registration order, skipping hidden ones. */
  static void collect(CommandLine c, List<CommandLine> leaves) {
    if (c.getCommandSpec().usageMessage().hidden()) {
      return;
    }
    if (c.getSubcommands().isEmpty()) {
      leaves.add(c);
      return;
    }
    new java.util.LinkedHashSet<>(c.getSubcommands().values()).forEach(s -> collect(s, leaves));
  }

  /** The command's words after {@code skippipe}, e.g. {@code bench model}. */
  static String path(CommandLine c) {
    String q = c.getCommandSpec().qualifiedName(" ");
    int space = q.indexOf(' ');
    return space < 0 ? "" : q.substring(space + 1);
  }

  private static List<String> units(CommandSpec spec) {
    List<String> units = new ArrayList<>();
    Set<ArgGroupSpec> groupsDone = new HashSet<>();
    List<OptionSpec> options = new ArrayList<>(spec.options());
    options.sort(Comparator.comparingInt(OptionSpec::order));
    for (PositionalParamSpec p : spec.positionalParameters()) {
      if (!p.hidden()) {
        String label = p.paramLabel() + (p.isMultiValue() ? "..." : "");
        units.add(p.arity().min() == 0 ? "[" + label + "]" : label);
      }
    }
    for (OptionSpec o : options) {
      if (o.usageHelp() || o.versionHelp() || o.hidden()) {
        continue;
      }
      ArgGroupSpec g = o.group();
      if (g != null) {
        if (groupsDone.add(g)) {
          List<String> members = g.options().stream().map(CommandList::bare).toList();
          String joined = String.join(g.exclusive() ? " | " : " ", members);
          units.add(g.multiplicity().min() == 0 ? "[" + joined + "]" : joined);
        }
        continue;
      }
      String u = bare(o);
      units.add(o.required() ? u : "[" + u + "]" + (o.isMultiValue() ? "..." : ""));
    }
    return units;
  }

  private static String bare(OptionSpec o) {
    return o.longestName() + (o.arity().max() == 0 ? "" : " " + o.paramLabel());
  }
}
