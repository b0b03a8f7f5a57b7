package io.skippipe.job.transfer;

/**
 * The kinds of message on the block transfer, each with a fixed wire byte (never renumber one).
 */
public enum BlockType {
  /** Forward activations of one microbatch, sent to the next node on its path. */
  ACTIVATION(1),
  /** Gradient w.r.t. a stage's input activations, sent back along the path for the backward. */
  ACTIVATION_GRAD(2),
  /** One segment of a stage's flat gradient during the ring all-reduce among its replicas. */
  GRAD_SHARD(3),
  /** Keep-alive on an otherwise idle connection; never delivered to the application. */
  HEARTBEAT(4),
  /** A peer failed; the payload is its UTF-8 reason. Receiving it fails the receiving task too. */
  ABORT(5),
  /** Latency/bandwidth probe message (rendezvous profile). */
  PROBE(6),
  /** A node finished a phase (e.g. its part of an iteration); payload carries small scalars. */
  DONE(7),
  /** Small per-iteration scalars sent to one coordinator node (loss sums, squared grad norms). */
  SCALARS(8),
  /** The sender closes this connection on purpose (end of a session); EOF after it is not a failure. */
  CLOSE(9);

  private final byte wire;

  BlockType(int wire) {
    this.wire = (byte) wire;
  }

  /** The byte that identifies this type on the wire. */
  public byte wire() {
    return wire;
  }

  /** The type for a wire byte; throws {@link CorruptFrameException} for an unknown byte. */
  public static BlockType fromWire(byte b) throws CorruptFrameException {
    for (BlockType t : values()) {
      if (t.wire == b) {
        return t;
      }
    }
    throw new CorruptFrameException("unknown block type byte " + (b & 0xff));
  }
}
