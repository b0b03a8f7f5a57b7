package io.skippipe.model.bench;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** The {@code --key value} and {@code --flag} options of one benchmark, validated at the edge. */
final class BenchArgs {
  final Map<String, String> values = new HashMap<>();
  final boolean json;

  /** Thrown for bad options; the dispatcher prints the message and exits 2. */
  static final class Usage extends IllegalArgumentException {
    Usage(String message) {
      super(message);
    }
  }

  BenchArgs(String[] args, int from, Set<String> keys, String usage) {
    boolean j = false;
    for (int i = from; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--json")) {
        j = true;
      } else if (a.startsWith("--") && keys.contains(a.substring(2))) {
        if (i + 1 >= args.length) {
          throw new Usage("option " + a + " needs a value. Usage: " + usage);
        }
        values.put(a.substring(2), args[++i]);
      } else {
        throw new Usage("unknown option '" + a + "'. Usage: " + usage);
      }
    }
    this.json = j;
  }

  /**
   * Applies {@code --threads N}: PyTorch's intra-op threads for this process (on a shared machine
   * the default, one per core, spin-waits for cores other processes hold). Returns the count used.
   */
  int applyThreads() {
    ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch so the setting sticks
    if (values.containsKey("threads")) {
      ai.djl.pytorch.jni.JniUtils.setNumThreads(positiveInt("threads", 1));
    }
    return ai.djl.pytorch.jni.JniUtils.getNumThreads();
  }

  String string(String key, String def) {
    return values.getOrDefault(key, def);
  }

  int positiveInt(String key, int def) {
    String v = values.get(key);
    if (v == null) {
      return def;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new Usage("--" + key + " is '" + v + "'; it must be a positive whole number");
  }

  long longValue(String key, long def) {
    String v = values.get(key);
    if (v == null) {
      return def;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new Usage("--" + key + " is '" + v + "'; it must be a whole number");
    }
  }

  double positiveDouble(String key, double def) {
    String v = values.get(key);
    if (v == null) {
      return def;
    }
    try {
      double d = Double.parseDouble(v.trim());
      if (d > 0 && Double.isFinite(d)) {
        return d;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new Usage("--" + key + " is '" + v + "'; it must be a positive number");
  }
}
