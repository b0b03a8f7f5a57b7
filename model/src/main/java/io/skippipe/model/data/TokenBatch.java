package io.skippipe.model.data;

import java.util.Arrays;

/**
 * One microbatch of token ids: {@code batchSize} sequences of {@code seqLen + 1} ids, row-major
 * ({@code tokens[b·(seqLen+1) + t]}). The model reads inputs {@code tokens[:, 0..seqLen-1]} and
 * predicts targets {@code tokens[:, 1..seqLen]}.
 *
 * @param batchSize sequences B
 * @param seqLen positions T the model sees per sequence
 * @param tokens B·(T+1) ids
 */
public record TokenBatch(int batchSize, int seqLen, int[] tokens) {
  public TokenBatch {
    if (batchSize <= 0 || seqLen <= 0) {
      throw new IllegalArgumentException("batchSize " + batchSize + " and seqLen " + seqLen
          + " must be positive");
    }
    if (tokens.length != batchSize * (seqLen + 1)) {
      throw new IllegalArgumentException(tokens.length + " ids do not form " + batchSize
          + " sequences of seqLen+1 = " + (seqLen + 1));
    }
  }

  /** Inputs, B·T ids row-major: each sequence without its last id. */
  public int[] inputs() {
    return slice(0);
  }

  /** Targets, B·T ids row-major: each sequence without its first id. */
  public int[] targets() {
    return slice(1);
  }

  /** Sequence {@code b}, seqLen+1 ids. */
  public int[] sequence(int b) {
    return Arrays.copyOfRange(tokens, b * (seqLen + 1), (b + 1) * (seqLen + 1));
  }

  private int[] slice(int from) {
    int[] out = new int[batchSize * seqLen];
    for (int b = 0; b < batchSize; b++) {
      System.arraycopy(tokens, b * (seqLen + 1) + from, out, b * seqLen, seqLen);
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenBatch t && t.batchSize == batchSize && t.seqLen == seqLen
        && Arrays.equals(t.tokens, tokens);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * batchSize + seqLen) + Arrays.hashCode(tokens);
  }

  @Override
  public String toString() {
    return "TokenBatch[" + batchSize + "x" + (seqLen + 1) + "]";
  }
}
