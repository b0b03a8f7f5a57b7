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

  /** The incremental decoder gives the same blocks whatever the pieces the bytes arrive in. */
  @Test
  void decodingInRandomPiecesEqualsDecodingWhole() throws IOException {
    Random random = new Random(3);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    java.util.List<Block> sent = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      float[] v = new float[random.nextInt(3) == 0 ? 0 : 1 + random.nextInt(40_000)];
      for (int k = 0; k < v.length; k++) {
        v[k] = random.nextFloat();
      }
      Block b = Block.ofFloats(BlockType.ACTIVATION, 5, i, i, 0, 1, v);
      sent.add(b);
      FrameCodec.write(new DataOutputStream(all), b);
    }
    byte[] wire = all.toByteArray();
    FrameDecoder d = new FrameDecoder(1 << 20);
    java.util.List<Block> got = new java.util.ArrayList<>();
    for (int at = 0; at < wire.length; ) {
      int n = Math.min(wire.length - at, 1 + random.nextInt(random.nextBoolean() ? 7 : 70_000));
      java.nio.ByteBuffer piece = java.nio.ByteBuffer.wrap(wire, at, n);
      Block b;
      while ((b = d.decode(piece)) != null) {
        got.add(b);
      }
      assertFalse(piece.hasRemaining());
      at += n;
    }
    assertEquals(sent, got);
    assertFalse(d.midFrame());
  }

  /**
   * A header announcing more than the limit is refused once the header is read: nothing of that
   * size is allocated (a 2 GiB claim against a 1 MiB limit would otherwise need 2 GiB).
   */
  @Test
  void anOversizedPayloadIsRefusedBeforeItsBufferExists() {
    BlockHeader h = new BlockHeader(1, 0, 0, 0, 1, DType.FLOAT32, new long[] {1 << 29},
        Integer.MAX_VALUE - 64);
    java.nio.ByteBuffer wire = java.nio.ByteBuffer.allocate(3 + h.encodedLength());
    wire.put(BlockType.ACTIVATION.wire()).putShort((short) h.encodedLength());
    h.encode(wire);
    wire.flip();
    long idle = BufferPool.SHARED.idleBytes();
    CorruptFrameException e = assertThrows(CorruptFrameException.class,
        () -> new FrameDecoder(1 << 20).decode(wire));
    assertTrue(e.getMessage().contains("exceeds the limit"), e.getMessage());
    assertEquals(idle, BufferPool.SHARED.idleBytes());
  }

  /** Pooled payloads are reused once closed; reading a closed block fails loudly. */
  @Test
  void closedBlocksGiveTheirBuffersBackAndCannotBeRead() {
    BufferPool pool = new BufferPool(1 << 30);
    java.nio.ByteBuffer first = pool.acquire(100_000);
    assertTrue(first.isDirect());
    assertEquals(100_000, first.limit());
    assertEquals(131_072, first.capacity());
    pool.release(first);
    assertSame(first, pool.acquire(70_000), "the released buffer of the same class is reused");
    assertFalse(pool.acquire(1_000).isDirect(), "small payloads are heap buffers");

    BufferPool small = new BufferPool(4 << 20); // room for two 2 MiB buffers
    java.nio.ByteBuffer a = small.acquire(2 << 20);
    java.nio.ByteBuffer b2 = small.acquire(2 << 20);
    java.nio.ByteBuffer big = small.acquire(4 << 20);
    small.release(a);
    small.release(b2);
    small.release(big); // the size in use now evicts the idle ones of the earlier size
    assertSame(big, small.acquire(3 << 20));
    assertEquals(0, small.idleBytes());

    Block b = Block.ofFloats(BlockType.ACTIVATION, 1, 0, 0, 0, 1, new float[50_000]);
    b.close();
    assertThrows(IllegalStateException.class, b::floats);
    b.close(); // idempotent
  }

  /**
   * The runtime's path (issue 11 item 1): a stage fills a payload from the pool, the block wraps it
   * without a copy, and closing the block gives that same buffer back for the next activation.
   */
  @Test
  void aFilledPayloadIsWrappedAsIsAndGoesBackToThePoolOnClose() {
    long[] shape = {1, 16, 2048}; // 32768 BF16 values, 64 KiB
    java.nio.ByteBuffer payload = Block.allocatePayload(2 * 32768);
    assertTrue(payload.isDirect());
    for (int i = 0; i < 32768; i++) {
      payload.putShort((short) i);
    }
    payload.flip();
    Block b = Block.ofPooled(BlockType.ACTIVATION, DType.BF16, 1, 0, 0, 0, 1, payload, shape);
    assertEquals(DType.BF16, b.header().dtype());
    assertEquals(7, b.buffer().getShort(14), "the block reads the stage's bytes, not a copy");
    payload.putShort(14, (short) 99);
    assertEquals(99, b.buffer().getShort(14), "the block reads the stage's bytes, not a copy");
    b.close();
    assertSame(payload, Block.allocatePayload(2 * 32768), "closing gave the buffer back");
    assertThrows(IllegalArgumentException.class, () -> Block.ofPooled(BlockType.ACTIVATION,
        DType.FLOAT32, 1, 0, 0, 0, 1, Block.allocatePayload(100), 1, 2, 3),
        "a payload that does not match shape and dtype is refused");
  }
}
