package io.skippipe.model.train;

/**
 * One microbatch's token ids split into model input and next-token targets: from {@code B}
 * sequences of {@code T+1} ids (row-major), {@code inputIds = tokens[:, 0..T-1]} and {@code targets
 * = tokens[:, 1..T]}, both {@code [B,T]} row-major.
 */
public record TokenBatch(int batch, int seqLen, int[] inputIds, int[] targets) {

  /** Splits {@code tokens} ({@code B·(seqLen+1)} ids) into inputs and targets. */
  public static TokenBatch of(int[] tokens, int seqLen) {
    int row = seqLen + 1;
    if (tokens.length == 0 || tokens.length % row != 0) {
      throw new IllegalArgumentException(
          "a microbatch holds B sequences of seqLen+1 = "
              + row
              + " token ids, but got "
              + tokens.length
              + " ids; pack the data with sequence length "
              + seqLen
              + "+1.");
    }
    int batch = tokens.length / row;
    int[] inputs = new int[batch * seqLen];
    int[] targets = new int[batch * seqLen];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(tokens, b * row, inputs, b * seqLen, seqLen);
      System.arraycopy(tokens, b * row + 1, targets, b * seqLen, seqLen);
    }
    return new TokenBatch(batch, seqLen, inputs, targets);
  }
}
