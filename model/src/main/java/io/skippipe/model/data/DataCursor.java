package io.skippipe.model.data;

/**
 * Where a {@link MicrobatchReader} stands: the seed of its shuffles, the epoch and the position in
 * that epoch's order. The runtime checkpoints it ({@link #toString} / {@link #parse}) and restores
 * it on resume, so the resumed run reads exactly the microbatches the uninterrupted one would.
 *
 * @param seed seed of the per-epoch shuffles
 * @param epoch passes over the data completed
 * @param position sequences of the current epoch already read
 */
public record DataCursor(long seed, long epoch, long position) {
  public DataCursor {
    if (epoch < 0 || position < 0) {
      throw new IllegalArgumentException("data cursor epoch " + epoch + " and position "
          + position + " must be non-negative");
    }
  }

  /** The text form {@code seed:epoch:position}. */
  @Override
  public String toString() {
    return seed + ":" + epoch + ":" + position;
  }

  /** Parses {@link #toString}'s form. */
  public static DataCursor parse(String s) {
    String[] p = s.trim().split(":");
    try {
      if (p.length == 3) {
        return new DataCursor(Long.parseLong(p[0]), Long.parseLong(p[1]), Long.parseLong(p[2]));
      }
    } catch (NumberFormatException e) {
      // fall through to the message below
    }
    throw new IllegalArgumentException("data cursor \"" + s + "\" is not seed:epoch:position"
        + " (three integers); use the value the checkpoint recorded");
  }
}
