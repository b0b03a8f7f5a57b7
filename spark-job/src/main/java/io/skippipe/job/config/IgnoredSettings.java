package io.skippipe.job.config;

import static io.skippipe.job.config.ConfigKeys.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Settings a user gave that another setting makes ineffective, each as one warning line that
 * names both (as torchtitan warns about options that its mode ignores). Only explicitly given
 * keys count: a default is never "ignored".
 */
public final class IgnoredSettings {
  private IgnoredSettings() {}

  /** The warnings for {@code given} (the explicitly set {@code spark.skippipe.*} keys). */
  public static List<String> of(Map<String, String> given) {
    List<String> out = new ArrayList<>();
    String planFile = given.getOrDefault(PLAN_FILE.name(), "");
    String mode = given.getOrDefault(NETWORK_MODE.name(), NETWORK_MODE.defaultValue());
    boolean byLength = !given.getOrDefault(PLAN_PATH_LENGTH.name(), "0").trim().equals("0");
    if (!planFile.isBlank()) {
      ignored(out, given, PLAN_FILE.name() + "=" + planFile + " (the plan carries its model,"
          + " cluster and paths)", MODEL, CLUSTER, PLAN_METHOD, PLAN_SKIP_RATIO, PLAN_PATH_LENGTH);
    } else if ("dtfm".equals(given.get(PLAN_METHOD.name()))) {
      ignored(out, given, PLAN_METHOD.name() + "=dtfm (a full pipeline visits every stage)",
          PLAN_SKIP_RATIO, PLAN_PATH_LENGTH);
    } else if (byLength) {
      ignored(out, given, PLAN_PATH_LENGTH.name() + "=" + given.get(PLAN_PATH_LENGTH.name()),
          PLAN_SKIP_RATIO);
    }
    if (!mode.equals("probe")) {
      ignored(out, given, NETWORK_MODE.name() + "=" + mode + " (only probe measures)",
          NETWORK_PROBE_BYTES, NETWORK_PROBE_PINGS, NETWORK_PROBE_PING_BYTES,
          NETWORK_PROBE_TIMEOUT_MS);
    }
    if (!mode.equals("emulated")) {
      ignored(out, given, NETWORK_MODE.name() + "=" + mode + " (only emulated delays links and"
          + " pads compute)", NETWORK_TIME_SCALE, NETWORK_PAD_COMPUTE);
    }
    if ("true".equalsIgnoreCase(given.getOrDefault(RUN_OVERWRITE.name(), "false"))) {
      ignored(out, given, RUN_OVERWRITE.name() + "=true (an overwritten run always starts at"
          + " step 0)", CHECKPOINT_RESUME);
    }
    if (given.getOrDefault(DATA_INPUT.name(), "").isBlank()) {
      ignored(out, given, DATA_INPUT.name() + " unset (the bundled corpus is plain text)",
          DATA_FORMAT, DATA_JSON_FIELD);
    }
    return out;
  }

  private static void ignored(List<String> out, Map<String, String> given, String because,
      Key... keys) {
    for (Key k : keys) {
      if (given.containsKey(k.name())) {
        out.add(k.name() + "=" + given.get(k.name()) + " is ignored because of " + because);
      }
    }
  }
}
