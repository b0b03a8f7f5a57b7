package io.skippipe.job.transfer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Frames blocks on a byte stream: {@code type u8 | headerLength u16 | header | payload | crc32c u32},
 * where the CRC32C covers everything before it. A frame that fails any check throws
 * {@link CorruptFrameException}; the connection carrying it is then dropped.
 */
public final class FrameCodec {
  private FrameCodec() {}

  /** Writes one frame (does not flush). */
  public static void write(DataOutputStream out, Block block) throws IOException {
    byte[] header = block.header().encode();
    CRC32C crc = new CRC32C();
    byte[] prefix = ByteBuffer.allocate(3).put(block.type().wire())
        .putShort((short) header.length).array();
    crc.update(prefix);
    crc.update(header);
    crc.update(block.payload());
    out.write(prefix);
    out.write(header);
    out.write(block.payload());
    out.writeInt((int) crc.getValue());
  }

  /** Reads one frame, rejecting payloads over {@code maxPayloadBytes}. */
  public static Block read(DataInputStream in, int maxPayloadBytes) throws IOException {
    byte typeByte = in.readByte();
    BlockType type = BlockType.fromWire(typeByte);
    int headerLength = in.readUnsignedShort();
    if (headerLength < 30 || headerLength > 30 + 8 * BlockHeader.MAX_RANK) {
      throw new CorruptFrameException("implausible header length " + headerLength);
    }
    byte[] header = new byte[headerLength];
    in.readFully(header);
    BlockHeader h = BlockHeader.decode(ByteBuffer.wrap(header));
    if (h.payloadBytes() > maxPayloadBytes) {
      throw new CorruptFrameException("payload of " + h.payloadBytes() + " bytes exceeds the limit of "
          + maxPayloadBytes + " (spark.skippipe.transfer.maxFrameBytes)");
    }
    byte[] payload = new byte[h.payloadBytes()];
    in.readFully(payload);
    int expected = in.readInt();
    CRC32C crc = new CRC32C();
    crc.update(new byte[] {typeByte, (byte) (headerLength >>> 8), (byte) headerLength});
    crc.update(header);
    crc.update(payload);
    if ((int) crc.getValue() != expected) {
      throw new CorruptFrameException("CRC32C mismatch on " + type + " frame from node " + h.from()
          + " (computed " + Integer.toHexString((int) crc.getValue()) + ", frame says "
          + Integer.toHexString(expected) + ")");
    }
    return new Block(type, h, payload);
  }
}
