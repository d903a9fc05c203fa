package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GrpcDeframerTest {
  private final UnpooledByteBufAllocator allocator = new UnpooledByteBufAllocator(false);
  private final List<ByteBuf> inputs = new ArrayList<>();
  private final List<ByteBuf> messages = new ArrayList<>();

  @AfterEach
  void everyBufferIsReleased() {
    // Messages may be slices of the input frames: release both, then check both.
    messages.forEach(ByteBuf::release);
    inputs.forEach(ByteBuf::release);
    for (ByteBuf message : messages) {
      assertEquals(0, message.refCnt(), "a delivered message leaked");
    }
    for (ByteBuf input : inputs) {
      assertEquals(0, input.refCnt(), "an input frame leaked");
    }
  }

  private static byte[] frame(boolean compressed, byte[] payload) {
    ByteBuf buf = Unpooled.buffer();
    buf.writeByte(compressed ? 1 : 0).writeInt(payload.length).writeBytes(payload);
    return ByteBufUtil.getBytes(buf);
  }

  private Status feed(GrpcDeframer deframer, byte[] bytes) {
    ByteBuf input = allocator.buffer().writeBytes(bytes);
    inputs.add(input);
    return deframer.feed(input, messages::add);
  }

  @Test
  void cutsMessagesAtAnyFrameBoundary() {
    byte[] a = "first".getBytes();
    byte[] b = new byte[10_000];
    new Random(1).nextBytes(b);
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    stream.writeBytes(frame(false, a));
    stream.writeBytes(frame(false, new byte[0]));
    stream.writeBytes(frame(false, b));
    byte[] all = stream.toByteArray();
    for (int chunk : new int[] {1, 2, 3, 5, 7, 4096, all.length}) {
      GrpcDeframer deframer = new GrpcDeframer(allocator, 1 << 20, false);
      for (int i = 0; i < all.length; i += chunk) {
        byte[] part = java.util.Arrays.copyOfRange(all, i, Math.min(all.length, i + chunk));
        assertNull(feed(deframer, part));
      }
      assertFalse(deframer.hasPartialMessage());
      assertEquals(3, messages.size(), "chunk " + chunk);
      assertArrayEquals(a, ByteBufUtil.getBytes(messages.get(0)));
      assertEquals(0, messages.get(1).readableBytes());
      assertArrayEquals(b, ByteBufUtil.getBytes(messages.get(2)));
      messages.forEach(ByteBuf::release);
      messages.clear();
    }
  }

  @Test
  void rejectsMessagesAboveTheLimitBeforeBuffering() {
    GrpcDeframer deframer = new GrpcDeframer(allocator, 1024, false);
    // Only the 5-byte prefix arrives: the limit is checked on the declared length.
    byte[] prefix = {0, 0, 0, 4, 1};
    Status status = feed(deframer, prefix);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertTrue(status.getDescription().contains("1025 bytes"), status.getDescription());
    deframer.close();
  }

  @Test
  void negativeLengthsAreTooLargeNotACrash() {
    GrpcDeframer deframer = new GrpcDeframer(allocator, 1024, false);
    Status status = feed(deframer, new byte[] {0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertTrue(status.getDescription().contains("4294967295"), status.getDescription());
  }

  @Test
  void rejectsUnknownFlags() {
    GrpcDeframer deframer = new GrpcDeframer(allocator, 1024, false);
    assertEquals(Status.Code.INTERNAL, feed(deframer, new byte[] {2, 0, 0, 0, 0}).getCode());
  }

  @Test
  void compressedFlagWithoutEncodingIsInternal() {
    GrpcDeframer deframer = new GrpcDeframer(allocator, 1024, false);
    Status status = feed(deframer, frame(true, new byte[] {1, 2, 3}));
    assertEquals(Status.Code.INTERNAL, status.getCode());
  }

  @Test
  void inflatesGzipMessages() throws IOException {
    byte[] payload = "hello hello hello hello".repeat(100).getBytes();
    GrpcDeframer deframer = new GrpcDeframer(allocator, 1 << 20, true);
    assertNull(feed(deframer, frame(true, gzip(payload))));
    assertNull(feed(deframer, frame(false, payload)));
    assertEquals(2, messages.size());
    assertArrayEquals(payload, ByteBufUtil.getBytes(messages.get(0)));
    assertArrayEquals(payload, ByteBufUtil.getBytes(messages.get(1)));
  }

  @Test
  void gzipBombStopsAtTheLimit() throws IOException {
    byte[] bomb = gzip(new byte[10 * 1024 * 1024]);
    GrpcDeframer deframer = new GrpcDeframer(allocator, 64 * 1024, true);
    Status status = feed(deframer, frame(true, bomb));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertTrue(status.getDescription().contains("inflates"), status.getDescription());
  }

  @Test
  void partialMessageIsReportedAndReleased() {
    GrpcDeframer deframer = new GrpcDeframer(allocator, 1024, false);
    assertNull(feed(deframer, new byte[] {0, 0, 0, 0, 10, 1, 2, 3}));
    assertTrue(deframer.hasPartialMessage());
    deframer.close();
    assertTrue(messages.isEmpty());
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
      gzip.write(data);
    }
    return out.toByteArray();
  }
}
