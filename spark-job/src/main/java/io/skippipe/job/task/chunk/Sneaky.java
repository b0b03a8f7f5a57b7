package io.skippipe.job.task.chunk;

import java.util.concurrent.Callable;

/**
 * Calls code that throws checked exceptions from a Scala function (Spark's mapPartitions), passing
 * the original exception through unwrapped so the task failure shows it as it is.
 */
public final class Sneaky {
  private Sneaky() {}

  public static <T> T call(Callable<T> body) {
    try {
      return body.call();
    } catch (Exception e) {
      throw Sneaky.<RuntimeException>rethrow(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E rethrow(Throwable t) throws E {
    throw (E) t;
  }
}
