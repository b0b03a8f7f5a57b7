package io.skippipe.job.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;

/** Collects the WARN-and-above messages one class logs while open (log4j2, Spark's backend). */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final AbstractAppender appender;
  private final List<String> messages = new ArrayList<>();

  public LogCapture(Class<?> source) {
    logger = (Logger) LogManager.getLogger(source);
    appender = new AbstractAppender("capture-" + UUID.randomUUID(), null, null, true,
        Property.EMPTY_ARRAY) {
      @Override
      public void append(LogEvent event) {
        if (event.getLevel().isMoreSpecificThan(Level.WARN)) {
          synchronized (messages) {
            messages.add(event.getMessage().getFormattedMessage());
          }
        }
      }
    };
    appender.start();
    logger.addAppender(appender);
  }

  /** The captured messages so far. */
  public List<String> warnings() {
    synchronized (messages) {
      return List.copyOf(messages);
    }
  }

  /** Whether some captured message contains every fragment. */
  public boolean saw(String... fragments) {
    return warnings().stream().anyMatch(m -> {
      for (String f : fragments) {
        if (!m.contains(f)) {
          return false;
        }
      }
      return true;
    });
  }

  @Override
  public void close() {
    logger.removeAppender(appender);
    appender.stop();
  }
}
