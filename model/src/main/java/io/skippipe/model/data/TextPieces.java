package io.skippipe.model.data;

import java.util.function.Consumer;

/**
 * Cuts a stream of text into pieces of at most {@code maxChars} characters for the tokenizer, so
 * that memory stays bounded whatever the length of a document or line.
 *
 * <p>A piece ends where the pre-tokenizers of common byte-level and sentence-piece tokenizers
 * split anyway, so the ids of the pieces, concatenated, equal the ids of the whole text: just
 * before a space that follows a non-space and precedes a non-space (the start of a {@code " word"}
 * pre-token in GPT-2's and LLaMA-3's split patterns, and of a {@code "▁word"} in Metaspace), or
 * at the start of a line that begins with a non-space. The cut is taken as late as possible in the
 * second half of the piece. A piece with no such position (e.g. a long run without spaces) is cut
 * at {@code maxChars}, moved back by one character so as not to split a surrogate pair; only there
 * may the ids differ from those of the whole text.
 */
public final class TextPieces {
  /** Default piece length: long enough to amortise a native call, short enough to stay fast. */
  public static final int DEFAULT_MAX_CHARS = 8192;

  private final int maxChars;
  private final Consumer<String> sink;
  private final StringBuilder buf = new StringBuilder();

  /** Pieces of at most {@code maxChars} (≥ 4) characters go to {@code sink}. */
  public TextPieces(int maxChars, Consumer<String> sink) {
    if (maxChars < 4) {
      throw new IllegalArgumentException("maxChars " + maxChars + " must be at least 4");
    }
    this.maxChars = maxChars;
    this.sink = sink;
  }

  /** Appends text; emits every piece that is complete. */
  public void append(CharSequence text) {
    int from = 0;
    while (from < text.length()) {
      int n = Math.min(text.length() - from, maxChars + 1 - buf.length());
      buf.append(text, from, from + n);
      from += n;
      drain();
    }
  }

  /** Appends {@code len} characters of {@code chars} from {@code off}. */
  public void append(char[] chars, int off, int len) {
    int end = off + len;
    while (off < end) {
      int n = Math.min(end - off, maxChars + 1 - buf.length());
      buf.append(chars, off, n);
      off += n;
      drain();
    }
  }

  /** Emits the rest of the text (if any) as the last piece. */
  public void finish() {
    if (buf.length() > 0) {
      sink.accept(buf.toString());
      buf.setLength(0);
    }
  }

  /** The text of {@code s} in pieces (convenience for whole strings). */
  public static void cut(String s, int maxChars, Consumer<String> sink) {
    if (s.length() <= maxChars) {
      if (!s.isEmpty()) {
        sink.accept(s);
      }
      return;
    }
    TextPieces p = new TextPieces(maxChars, sink);
    p.append(s);
    p.finish();
  }

  /** Emits pieces while more than maxChars characters are buffered. */
  private void drain() {
    while (buf.length() > maxChars) {
      int cut = cutPoint(buf, maxChars);
      sink.accept(buf.substring(0, cut));
      buf.delete(0, cut);
    }
  }

  /**
   * Where to end a piece of {@code s} (which holds more than {@code limit} characters): the last
   * word or line start in {@code (limit/2, limit]}, else {@code limit} (one less before a low
   * surrogate).
   */
  static int cutPoint(CharSequence s, int limit) {
    for (int i = limit; i > limit / 2; i--) {
      char c = s.charAt(i);
      char prev = s.charAt(i - 1);
      if (c == ' ' && !space(prev) && i + 1 < s.length() && !space(s.charAt(i + 1))) {
        return i;
      }
      if (prev == '\n' && !space(c)) {
        return i;
      }
    }
    return Character.isLowSurrogate(s.charAt(limit)) ? limit - 1 : limit;
  }

  private static boolean space(char c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c);
  }
}
