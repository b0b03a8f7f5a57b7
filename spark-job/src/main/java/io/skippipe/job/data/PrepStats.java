package io.skippipe.job.data;

import java.io.Serializable;
import java.util.Arrays;

/**
 * What data preparation read and wrote, for one split or summed over all: records read, documents
 * packed, their tokens (separators not counted), sequences written (in total and per data node, in
 * the order of the data-node list), records skipped by reason, and the make-up of the text
 * (characters, control characters and U+FFFD among them, malformed UTF-8 bytes).
 */
public record PrepStats(long records, long documents, long tokens, long sequences,
    long[] sequencesPerNode, long missingField, long empty, long undecodable, long tooLong,
    long chars, long nonTextChars, long replacedBytes) implements Serializable {

  /** Nothing read yet, for {@code nodes} data nodes. */
  public static PrepStats zero(int nodes) {
    return new PrepStats(0, 0, 0, 0, new long[nodes], 0, 0, 0, 0, 0, 0, 0);
  }

  /** Records skipped for any reason. */
  public long skipped() {
    return missingField + empty + undecodable + tooLong;
  }

  /** Skipped records over records read (0 for no records). */
  public double skippedFraction() {
    return records == 0 ? 0 : (double) skipped() / records;
  }

  /** Control characters and U+FFFD over all characters (0 for no text). */
  public double nonTextFraction() {
    return chars == 0 ? 0 : (double) nonTextChars / chars;
  }

  /** The sum of two. */
  public PrepStats plus(PrepStats o) {
    long[] perNode = sequencesPerNode.clone();
    for (int i = 0; i < perNode.length; i++) {
      perNode[i] += o.sequencesPerNode[i];
    }
    return new PrepStats(records + o.records, documents + o.documents, tokens + o.tokens,
        sequences + o.sequences, perNode, missingField + o.missingField, empty + o.empty,
        undecodable + o.undecodable, tooLong + o.tooLong, chars + o.chars,
        nonTextChars + o.nonTextChars, replacedBytes + o.replacedBytes);
  }

  /** "N skipped (a missing field, b empty, ...)" for messages. */
  public String skippedSummary() {
    return skipped() + " of " + records + " records skipped (" + missingField + " missing the"
        + " field, " + empty + " empty, " + undecodable + " undecodable, " + tooLong
        + " too long)";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PrepStats p && p.records == records && p.documents == documents
        && p.tokens == tokens && p.sequences == sequences
        && Arrays.equals(p.sequencesPerNode, sequencesPerNode) && p.missingField == missingField
        && p.empty == empty && p.undecodable == undecodable && p.tooLong == tooLong
        && p.chars == chars && p.nonTextChars == nonTextChars && p.replacedBytes == replacedBytes;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(new long[] {records, documents, tokens, sequences, chars})
        + 31 * Arrays.hashCode(sequencesPerNode);
  }
}
