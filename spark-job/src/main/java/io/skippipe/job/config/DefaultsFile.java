package io.skippipe.job.config;

import io.skippipe.job.config.ConfigKeys.Key;

/**
 * Renders {@code conf/skippipe-defaults.properties} from {@link ConfigKeys}.
 *
 * <p>Run {@code java -cp ... io.skippipe.job.config.DefaultsFile > conf/skippipe-defaults.properties}
 * after adding a key; {@code ConfigKeysTest} fails while the file and the code disagree.
 */
public final class DefaultsFile {
  private DefaultsFile() {}

  /** The file's text: a header, then per key its doc as a comment and {@code key=default}. */
  public static String render() {
    StringBuilder b = new StringBuilder();
    b.append("# Every setting of the SkipPipe training job, with its default.\n");
    b.append("# Set them with spark-submit --conf, in spark-defaults.conf, in a file passed to\n");
    b.append("# bin/skippipe train --conf FILE, or with bin/skippipe train --set key=value.\n");
    b.append("# Generated from io.skippipe.job.config.ConfigKeys (ConfigKeysTest keeps them equal).\n");
    String group = "";
    for (Key k : ConfigKeys.all()) {
      String g = k.name().substring("spark.skippipe.".length());
      g = g.contains(".") ? g.substring(0, g.indexOf('.')) : "general";
      if (!g.equals(group)) {
        b.append("\n# --- ").append(g).append(" ---\n");
        group = g;
      }
      b.append("# ").append(k.doc()).append('\n');
      b.append(k.name()).append('=').append(k.defaultValue()).append('\n');
    }
    return b.toString();
  }

  public static void main(String[] args) {
    System.out.print(render());
  }
}
