package io.skippipe.job.config;

/**
 * A user error in the job's configuration: names the key, the value, the rule it breaks and the fix.
 *
 * <p>{@code bin/skippipe} turns it into exit code 2 with the message only (no stack trace).
 */
public final class ConfigException extends IllegalArgumentException {
  private final String key;

  public ConfigException(String key, String value, String rule, String fix) {
    super(key + "=" + (value == null ? "<unset>" : "'" + value + "'") + " is invalid: " + rule
        + ". Fix: " + fix);
    this.key = key;
  }

  /** The configuration key at fault. */
  public String key() {
    return key;
  }
}
