package io.skippipe.job.config;

import io.skippipe.job.config.ConfigKeys.Key;
import java.util.Map;
import java.util.TreeMap;

/**
 * The raw {@code spark.skippipe.*} settings of one run with typed, validated getters.
 *
 * <p>Unset keys read their {@link ConfigKeys} default; an unknown {@code spark.skippipe.*} key is an
 * error (a typo would otherwise be silently ignored), other keys (plain {@code spark.*}) pass through.
 */
public final class Settings {
  private final Map<String, String> values;

  private Settings(Map<String, String> values) {
    this.values = values;
  }

  /** Wraps the given settings, rejecting unknown {@code spark.skippipe.*} keys. */
  public static Settings of(Map<String, String> raw) {
    Map<String, String> v = new TreeMap<>();
    for (Map.Entry<String, String> e : raw.entrySet()) {
      String k = e.getKey().trim();
      if (k.startsWith("spark.skippipe.") && ConfigKeys.byName(k) == null) {
        throw new ConfigException(k, e.getValue(), "no such key",
            "check the spelling against conf/skippipe-defaults.properties" + suggestion(k));
      }
      v.put(k, e.getValue() == null ? "" : e.getValue().trim());
    }
    return new Settings(v);
  }

  private static String suggestion(String k) {
    String best = null;
    int bestD = Integer.MAX_VALUE;
    for (Key key : ConfigKeys.all()) {
      int d = distance(k, key.name());
      if (d < bestD) {
        bestD = d;
        best = key.name();
      }
    }
    return bestD <= 4 ? " (did you mean " + best + "?)" : "";
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** The raw value of a key, or its default. */
  public String string(Key k) {
    return values.getOrDefault(k.name(), k.defaultValue());
  }

  /** All raw settings as given (only explicitly set keys). */
  public Map<String, String> raw() {
    return Map.copyOf(values);
  }

  public long longIn(Key k, long min, long max) {
    String s = string(k);
    long v;
    try {
      v = Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new ConfigException(k.name(), s, "must be an integer",
          "write a whole number between " + min + " and " + max + " (default " + k.defaultValue()
              + ")");
    }
    if (v < min || v > max) {
      throw new ConfigException(k.name(), s, "must be between " + min + " and " + max,
          "choose a value in that range (default " + k.defaultValue() + ")");
    }
    return v;
  }

  public int intIn(Key k, int min, int max) {
    return (int) longIn(k, min, max);
  }

  public double doubleIn(Key k, double min, double max, boolean maxInclusive) {
    String s = string(k);
    double v;
    try {
      v = Double.parseDouble(s);
    } catch (NumberFormatException e) {
      throw new ConfigException(k.name(), s, "must be a number",
          "write a decimal number (default " + k.defaultValue() + ")");
    }
    boolean ok = v >= min && (maxInclusive ? v <= max : v < max) && Double.isFinite(v);
    if (!ok) {
      throw new ConfigException(k.name(), s,
          "must be in [" + min + ", " + max + (maxInclusive ? "]" : ")"),
          "choose a value in that range (default " + k.defaultValue() + ")");
    }
    return v;
  }

  /** A number in {@code (min, max]}: for settings a consumer divides by or needs positive. */
  public double doubleAbove(Key k, double min, double max) {
    String s = string(k);
    double v;
    try {
      v = Double.parseDouble(s);
    } catch (NumberFormatException e) {
      throw new ConfigException(k.name(), s, "must be a number",
          "write a decimal number (default " + k.defaultValue() + ")");
    }
    if (!(v > min && v <= max)) {
      throw new ConfigException(k.name(), s, "must be in (" + min + ", " + max + "]",
          "choose a value in that range (default " + k.defaultValue() + ")");
    }
    return v;
  }

  public boolean bool(Key k) {
    String s = string(k).toLowerCase(java.util.Locale.ROOT);
    if (s.equals("true") || s.equals("false")) {
      return Boolean.parseBoolean(s);
    }
    throw new ConfigException(k.name(), string(k), "must be true or false",
        "write true or false (default " + k.defaultValue() + ")");
  }

  public String oneOf(Key k, String... allowed) {
    String s = string(k);
    for (String a : allowed) {
      if (a.equals(s)) {
        return s;
      }
    }
    throw new ConfigException(k.name(), s, "must be one of " + String.join(" | ", allowed),
        "use one of those values (default " + k.defaultValue() + ")");
  }
}
