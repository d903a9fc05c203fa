package io.meshgate.gateway.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

class FrameCumulatorTest {
  private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;

  private ByteBuf filled(int bytes, int value) {
    ByteBuf buf = alloc.buffer(bytes, bytes);
    for (int i = 0; i < bytes; i++) {
      buf.writeByte(value);
    }
    return buf;
  }

  @Test
  void aReadAfterFramesStillHeldIsCopiedIntoABufferOfItsSizeNotTwice() {
    ByteBuf cumulation = filled(64 * 1024, 1);
    // A stream holds a frame of what was read; 8 KiB of a next frame remain.
    ByteBuf held = cumulation.readRetainedSlice(56 * 1024);
    ByteBuf next = FrameCumulator.INSTANCE.cumulate(alloc, cumulation, filled(64 * 1024, 2));
    try {
      assertEquals(72 * 1024, next.readableBytes());
      assertTrue(next.capacity() <= 72 * 1024 * 5 / 4,
          "capacity " + next.capacity() + " for 72 KiB (Netty's default takes 128 KiB)");
      assertEquals(1, next.getByte(0));
      assertEquals(2, next.getByte(next.readerIndex() + 8 * 1024));
      assertEquals(1, held.getByte(0), "the held frame is untouched");
    } finally {
      next.release();
      held.release();
    }
  }

  @Test
  void aReadIntoNothingGatheredIsTakenAsItIs() {
    ByteBuf empty = alloc.buffer(16);
    ByteBuf in = filled(100, 3);
    assertSame(in, FrameCumulator.INSTANCE.cumulate(alloc, empty, in));
    assertEquals(0, empty.refCnt(), "the empty cumulation is released");
    in.release();
  }

  @Test
  void anUnsharedCumulationWithRoomIsAppendedTo() {
    ByteBuf cumulation = alloc.buffer(1024);
    cumulation.writeBytes(new byte[10]);
    ByteBuf in = filled(20, 4);
    ByteBuf out = FrameCumulator.INSTANCE.cumulate(alloc, cumulation, in);
    assertSame(cumulation, out);
    assertEquals(30, out.readableBytes());
    assertEquals(0, in.refCnt(), "what was read is released once copied");
    out.release();
  }
}
