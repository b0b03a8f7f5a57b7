package io.skippipe.job.transfer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Frames blocks on a byte stream: {@code type u8 | headerLength u16 | header | payload | crc32c
 * u32} (big-endian integers), where the CRC32C covers everything before it. A frame that fails any
 * check throws {@link CorruptFrameException}; the connection carrying it is then dropped.
 *
 * <p>The transport writes a frame as three buffers — {@link #head}, the payload itself (no copy)
 * and {@link #tail} — and reads frames with a {@link FrameDecoder}. The stream methods here serve
 * tests and hand-made peers.
 */
public final class FrameCodec {
  static final int PREFIX_BYTES = 3;
  static final int CRC_BYTES = 4;
  static final int MIN_HEADER_BYTES = 30;
  static final int MAX_HEADER_BYTES = 30 + 8 * BlockHeader.MAX_RANK;

  private FrameCodec() {}

  /** The frame's type byte, header length and header, ready to write. */
  static ByteBuffer head(Block block) {
    BlockHeader h = block.header();
    ByteBuffer b = ByteBuffer.allocate(PREFIX_BYTES + h.encodedLength());
    b.put(block.type().wire()).putShort((short) h.encodedLength());
    h.encode(b);
    return b.flip();
  }

  /** The 4-byte CRC32C trailer over {@code head} and {@code payload} (positions unchanged). */
  static ByteBuffer tail(ByteBuffer head, ByteBuffer payload) {
    CRC32C crc = new CRC32C();
    crc.update(head.duplicate());
    crc.update(payload.duplicate());
    return ByteBuffer.allocate(CRC_BYTES).putInt(0, (int) crc.getValue());
  }

  /** Writes one frame (does not flush). */
  public static void write(DataOutputStream out, Block block) throws IOException {
    ByteBuffer head = head(block);
    ByteBuffer payload = block.wireBuffer();
    ByteBuffer tail = tail(head, payload);
    out.write(head.array(), 0, head.limit());
    byte[] chunk = new byte[Math.min(payload.remaining(), 1 << 16)];
    while (payload.hasRemaining()) {
      int n = Math.min(chunk.length, payload.remaining());
      payload.get(chunk, 0, n);
      out.write(chunk, 0, n);
    }
    out.write(tail.array());
  }

  /** Reads one frame, rejecting payloads over {@code maxPayloadBytes}. */
  public static Block read(DataInputStream in, int maxPayloadBytes) throws IOException {
    FrameDecoder decoder = new FrameDecoder(maxPayloadBytes);
    byte[] buf = new byte[1 << 16];
    try {
      while (true) {
        // never read past this frame: the stream may carry the next one for another reader
        int n = in.read(buf, 0, Math.min(buf.length, decoder.bytesToFrameEnd()));
        if (n < 0) {
          throw new EOFException(decoder.midFrame() ? "stream ended inside a frame"
              : "stream ended");
        }
        ByteBuffer src = ByteBuffer.wrap(buf, 0, n);
        Block b = decoder.decode(src);
        if (b != null) {
          return b;
        }
      }
    } finally {
      decoder.release();
    }
  }
}
