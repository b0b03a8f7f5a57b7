package io.skippipe.model.stage;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * What one microbatch keeps on one stage between its forward and its backward: a child manager that
 * owns every activation of the forward graph, the stage's input leaf (null at stage 0, whose input
 * is token ids) and its output.
 *
 * <p>Opened by {@link StageModel}'s forward, closed by its backward after the input gradient has
 * been copied to the host (or by {@link StageModel#abort}). Closing frees the autograd graph's
 * native memory.
 */
public final class MicrobatchScope implements AutoCloseable {
  private final int microbatch;
  private final NDManager manager;
  private NDArray input;
  private NDArray output;

  MicrobatchScope(int microbatch, NDManager parent) {
    this.microbatch = microbatch;
    this.manager = parent.newSubManager();
    this.manager.setName("microbatch-" + microbatch);
  }

  /** The microbatch id this scope belongs to. */
  public int microbatch() {
    return microbatch;
  }

  /** The manager that owns this microbatch's activations on this stage. */
  public NDManager manager() {
    return manager;
  }

  NDArray input() {
    return input;
  }

  NDArray output() {
    return output;
  }

  void setInput(NDArray input) {
    this.input = input;
  }

  void setOutput(NDArray output) {
    this.output = output;
  }

  @Override
  public void close() {
    manager.close();
  }
}
