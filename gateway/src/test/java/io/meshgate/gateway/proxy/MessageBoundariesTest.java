package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MessageBoundariesTest {
  private final List<Long> lengths = new ArrayList<>();

  private static ByteBuf framed(int... sizes) {
    ByteBuf out = Unpooled.buffer();
    for (int size : sizes) {
      out.writeByte(0).writeInt(size).writeZero(size);
    }
    return out;
  }

  @Test
  void everyMessageIsCountedHoweverFramesCutThePrefixesAndPayloads() {
    ByteBuf stream = framed(0, 3, 70_000, 1, 16_384, 0, 5);
    Random random = new Random(7);
    MessageBoundaries bounds = new MessageBoundaries(0, "request");
    while (stream.isReadable()) {
      int n = Math.min(stream.readableBytes(), 1 + random.nextInt(9_000) % (random.nextBoolean()
          ? 4 : 9_000));
      ByteBuf frame = stream.readSlice(n);
      int before = frame.readerIndex();
      assertNull(bounds.feed(frame, lengths::add));
      assertEquals(before, frame.readerIndex(), "the bytes pass on unread");
    }
    assertEquals(List.of(0L, 3L, 70_000L, 1L, 16_384L, 0L, 5L), lengths);
    assertFalse(bounds.midMessage());
  }

  @Test
  void aStreamEndingInsideAPrefixOrAPayloadIsMidMessage() {
    MessageBoundaries prefix = new MessageBoundaries(0, "request");
    assertNull(prefix.feed(Unpooled.wrappedBuffer(new byte[] {0, 0, 0}), lengths::add));
    assertTrue(prefix.midMessage());

    MessageBoundaries payload = new MessageBoundaries(0, "request");
    ByteBuf partial = framed(10).writerIndex(5 + 4);
    assertNull(payload.feed(partial, lengths::add));
    assertTrue(payload.midMessage());
    assertEquals(List.of(10L), lengths, "the length is known once the prefix is");
  }

  @Test
  void aMessageOverTheLimitIsRefusedAsSoonAsItsPrefixSaysSo() {
    MessageBoundaries bounds = new MessageBoundaries(1024, "response");
    ByteBuf head = Unpooled.buffer().writeByte(1).writeInt(4 << 20); // prefix only, no payload
    Status refused = bounds.feed(head, lengths::add);
    assertNotNull(refused);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode());
    assertTrue(refused.getDescription().contains("response message 1 is 4194304 bytes"),
        refused.getDescription());
    assertTrue(refused.getDescription().contains("limits.maxStreamedMessageBytes"));
    assertEquals(List.of(), lengths);
  }

  @Test
  void aMessageOfFourGibibytesLessOneIsALengthNotANegativeNumber() {
    MessageBoundaries bounds = new MessageBoundaries(0, "request");
    assertNull(bounds.feed(Unpooled.buffer().writeByte(0).writeInt(-1), lengths::add));
    assertEquals(List.of(0xFFFF_FFFFL), lengths);
  }

  @Test
  void bytesThatAreNoGrpcFramingAreRefused() {
    MessageBoundaries bounds = new MessageBoundaries(0, "request");
    Status status = bounds.feed(Unpooled.wrappedBuffer("GET / HTTP/1.1".getBytes()),
        lengths::add);
    assertNotNull(status);
    assertEquals(Status.Code.INTERNAL, status.getCode());
    assertTrue(status.getDescription().contains("flag byte 71"), status.getDescription());
  }
}
