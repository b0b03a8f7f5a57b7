package io.skippipe.job.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every {@code spark.skippipe.*} key reaches code that acts on it (issue 10 item 6: the old check
 * counted a key as read when its constant appeared anywhere, and {@link JobConfig#from} names them
 * all). Two steps, both of which fail for a key that is parsed and then dropped:
 *
 * <ol>
 *   <li>Set alone to some accepted non-default value, the key changes the parsed {@link JobConfig};
 *       the changed field is found by walking the nested records (e.g. {@code train.learningRate}).
 *   <li>Main code outside the config package calls that field's accessor, or a method of the
 *       config package that derives something from the field (e.g. {@code train().adamW()} from
 *       {@code epsilon}), so something other than the parser reads it.
 * </ol>
 */
class ConfigKeysReachTest {
  private static final Path ROOT = Path.of(System.getProperty("skippipe.repo.root", ".."));

  /** Candidate values tried in order until one is accepted and differs from the default. */
  private static final List<String> CANDIDATES = List.of("7", "3", "2", "1", "0", "0.5", "true",
      "false", "1e-3", "5000", "70000", "127.0.0.1", "/tmp/skippipe-reach", "1:2:3", "0,1",
      "gpu", "cpu", "bf16", "line", "paragraph", "jsonl", "parquet", "direct", "probe",
      "dtfm", "neighbours", "auto", "x", "1073741824", "2147483648");

  /** Settings a key only applies with (its own check refuses it otherwise). */
  private static final Map<String, Map<String, String>> CONTEXT = Map.of(
      ConfigKeys.PLAN_TUNE_PROBE.name(), Map.of(ConfigKeys.PLAN_SKIP_RATIO.name(), "auto"));

  @Test
  void everyKeyChangesTheConfigAndItsFieldIsReadOutsideTheConfigPackage() throws Exception {
    String mainCode = mainCodeOutsideConfig();
    Map<String, String> derived = derivedMethods();
    Map<String, String> fieldByKey = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      List<String> values = new ArrayList<>(choices(k));
      values.addAll(CANDIDATES);
      List<String> changed = null;
      Map<String, String> context = CONTEXT.getOrDefault(k.name(), Map.of());
      JobConfig base = JobConfig.parse(context);
      for (String v : values) {
        if (v.equals(k.defaultValue())) {
          continue;
        }
        JobConfig c;
        try {
          Map<String, String> set = new LinkedHashMap<>(context);
          set.put(k.name(), v);
          c = JobConfig.parse(set);
        } catch (IllegalArgumentException refused) {
          continue;
        }
        List<String> diff = new ArrayList<>();
        diff(base, c, "", diff);
        if (!diff.isEmpty()) {
          changed = diff;
          break;
        }
      }
      if (changed == null) {
        problems.add(k.name() + ": no accepted value changes the parsed JobConfig (dropped?)");
        continue;
      }
      String field = changed.get(0);
      fieldByKey.put(k.name(), field);
      String leaf = field.substring(field.lastIndexOf('.') + 1);
      List<String> readers = new ArrayList<>(List.of(leaf));
      derived.forEach((method, body) -> {
        if (Pattern.compile("\\b" + Pattern.quote(leaf) + "\\b").matcher(body).find()) {
          readers.add(method);
        }
      });
      boolean read = readers.stream().anyMatch(m -> Pattern.compile(
          "\\." + Pattern.quote(m) + "\\(").matcher(mainCode).find());
      if (!read) {
        problems.add(k.name() + " -> " + field + ": no main code outside config/ calls any of "
            + readers);
      }
    }
    System.out.println("config keys reaching code: " + fieldByKey.size() + " of "
        + ConfigKeys.all().size() + " " + fieldByKey);
    assertTrue(problems.isEmpty(), problems.size() + " keys do not reach the code: " + problems);
  }

  /** The "a | b | c" choices a key's doc lists. */
  private static List<String> choices(ConfigKeys.Key k) {
    List<String> out = new ArrayList<>();
    for (String c : k.doc().split("[ .;:,()=|'`]+")) {
      if (c.matches("[a-z0-9][a-z0-9-]*")) {
        out.add(c);
      }
    }
    return out;
  }

  /** Dotted names of the record components whose values differ, depth first. */
  private static void diff(Object a, Object b, String prefix, List<String> out) throws Exception {
    if (a != null && b != null && a.getClass().isRecord() && a.getClass() == b.getClass()) {
      for (RecordComponent rc : a.getClass().getRecordComponents()) {
        Object x = rc.getAccessor().invoke(a);
        Object y = rc.getAccessor().invoke(b);
        String name = prefix.isEmpty() ? rc.getName() : prefix + "." + rc.getName();
        if (x != null && x.getClass().isRecord()) {
          diff(x, y, name, out);
        } else if (!Objects.deepEquals(x, y)) {
          out.add(name);
        }
      }
    } else if (!Objects.deepEquals(a, b)) {
      out.add(prefix);
    }
  }

  /**
   * Methods of the config package's classes that derive what the code calls from the fields (e.g.
   * {@code train.adamW()} from beta1, beta2, epsilon, weight decay), by name, with their bodies.
   * Constructors, the parser and the copy-with methods mention every field and are left out.
   */
  private static Map<String, String> derivedMethods() throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    Pattern header = Pattern.compile("\\n\\s+(?:(?:public|static|private|final|synchronized)\\s+)*"
        + "[\\w<>.,\\[\\]]+\\s+([a-z]\\w*)\\([^)]*\\)\\s*(?:throws [\\w, .]+)?\\{");
    try (Stream<Path> files = Files.walk(ROOT.resolve(
        "spark-job/src/main/java/io/skippipe/job/config"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        String text = Files.readString(f);
        java.util.regex.Matcher m = header.matcher(text);
        while (m.find()) {
          String name = m.group(1);
          if (name.equals("from") || name.equals("parse") || name.startsWith("with")) {
            continue;
          }
          int depth = 1;
          int i = m.end();
          while (depth > 0 && i < text.length()) {
            char ch = text.charAt(i++);
            depth += ch == '{' ? 1 : ch == '}' ? -1 : 0;
          }
          out.merge(name, text.substring(m.end(), i), String::concat);
        }
      }
    }
    return out;
  }

  private static String mainCodeOutsideConfig() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (String module : List.of("spark-job", "model", "scheduler")) {
      try (Stream<Path> files = Files.walk(ROOT.resolve(module).resolve("src/main/java"))) {
        for (Path f : files.filter(p -> p.toString().endsWith(".java"))
            .filter(p -> !p.toString().contains("io/skippipe/job/config/")).toList()) {
          sb.append(Files.readString(f)).append('\n');
        }
      }
    }
    return sb.toString();
  }
}
