package io.skippipe.model.stage;

/**
 * A tensor about to leave a stage holds a NaN or an infinity: training has diverged (too high a
 * learning rate, bad input or weights). Thrown by {@link StageModel}'s buffer API before the
 * value reaches another node; the message names the stage, the call, the microbatch, and the first
 * bad value with its element index.
 */
public final class NonFiniteException extends IllegalStateException {
  private final int stage;
  private final String problem;

  NonFiniteException(int stage, String problem) {
    super("stage " + stage + ": " + problem);
    this.stage = stage;
    this.problem = problem;
  }

  /** The stage whose output it was. */
  public int stage() {
    return stage;
  }

  /** What went wrong without the stage: {@code "<call> of microbatch <m> produced <v> at ..."}. */
  public String problem() {
    return problem;
  }
}
