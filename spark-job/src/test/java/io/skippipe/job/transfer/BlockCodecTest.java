package io.skippipe.job.transfer;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BlockCodecTest {
  private static byte[] frame(Block b) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    FrameCodec.write(new DataOutputStream(bytes), b);
    return bytes.toByteArray();
  }

  private static Block read(byte[] frame) throws IOException {
    return FrameCodec.read(new DataInputStream(new ByteArrayInputStream(frame)), 1 << 20);
  }

  @Test
  void everyTypeRoundTripsWithPayloadAndEmpty() throws IOException {
    Random random = new Random(7);
    for (BlockType type : BlockType.values()) {
      float[] values = new float[24];
      for (int i = 0; i < values.length; i++) {
        values[i] = random.nextFloat() - 0.5f;
      }
      Block full = Block.ofFloats(type, 0x1234_5678_9abcL, 3, 11, 2, 9, values, 2, 3, 4);
      Block back = read(frame(full));
      assertEquals(full, back, type.name());
      assertArrayEquals(values, back.floats());
      assertArrayEquals(new long[] {2, 3, 4}, back.header().shape());

      Block empty = Block.empty(type, -1L, 0, -1, 0, 1);
      assertEquals(empty, read(frame(empty)), type + " with an empty payload");
      assertEquals(0, read(frame(empty)).payload().length);
    }
  }

  @Test
  void largestRankAndExtremeFieldsRoundTrip() throws IOException {
    long[] shape = new long[BlockHeader.MAX_RANK];
    java.util.Arrays.fill(shape, 1);
    shape[0] = 3;
    BlockHeader h = new BlockHeader(Long.MIN_VALUE, Integer.MAX_VALUE, Integer.MIN_VALUE,
        Integer.MAX_VALUE, 0, DType.INT32, shape, 12);
    Block b = new Block(BlockType.SCALARS, h, new byte[12]);
    assertEquals(h.encodedLength(), h.encode().length);
    assertEquals(b, read(frame(b)));
  }

  @Test
  void crcMismatchIsDetected() throws IOException {
    Block b = Block.ofFloats(BlockType.ACTIVATION, 1, 0, 0, 0, 1, new float[] {1, 2, 3, 4});
    byte[] f = frame(b);
    for (int pos : new int[] {f.length - 6, 10, f.length - 1}) {
      byte[] bad = f.clone();
      bad[pos] ^= 0x10;
      IOException e = assertThrows(IOException.class, () -> read(bad), "flipped byte " + pos);
      assertInstanceOf(CorruptFrameException.class, e);
    }
    byte[] bad = f.clone();
    bad[f.length - 6] ^= 0x01; // inside the payload
    CorruptFrameException e = assertThrows(CorruptFrameException.class, () -> read(bad));
    assertTrue(e.getMessage().contains("CRC32C mismatch"), e.getMessage());
  }

  @Test
  void unknownTypeAndOversizedPayloadAreRejected() throws IOException {
    byte[] f = frame(Block.ofFloats(BlockType.ACTIVATION, 1, 0, 0, 0, 1, new float[64]));
    byte[] bad = f.clone();
    bad[0] = 99;
    assertThrows(CorruptFrameException.class, () -> read(bad));
    CorruptFrameException e = assertThrows(CorruptFrameException.class,
        () -> FrameCodec.read(new DataInputStream(new ByteArrayInputStream(f)), 16));
    assertTrue(e.getMessage().contains("exceeds the limit"), e.getMessage());
  }
}
