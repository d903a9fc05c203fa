package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GrpcWireTest {
  @Test
  void parsesEveryTimeoutUnit() {
    assertEquals(5L, GrpcWire.parseTimeoutNanos("5n"));
    assertEquals(5_000L, GrpcWire.parseTimeoutNanos("5u"));
    assertEquals(250_000_000L, GrpcWire.parseTimeoutNanos("250m"));
    assertEquals(3_000_000_000L, GrpcWire.parseTimeoutNanos("3S"));
    assertEquals(120_000_000_000L, GrpcWire.parseTimeoutNanos("2M"));
    assertEquals(3_600_000_000_000L, GrpcWire.parseTimeoutNanos("1H"));
    assertEquals(99_999_999L * 3_600_000_000_000L, GrpcWire.parseTimeoutNanos("99999999H"));
  }

  @Test
  void rejectsMalformedTimeouts() {
    assertEquals(-1, GrpcWire.parseTimeoutNanos(null));
    for (String bad : new String[] {"", "S", "10", "10s", "-1S", "123456789S", "1.5S", "1 S"}) {
      assertEquals(-2, GrpcWire.parseTimeoutNanos(bad), bad);
    }
  }

  @Test
  void percentEncodesStatusMessagesAsTheSpecSays() {
    assertEquals("plain text", GrpcWire.encodeMessage("plain text").toString());
    assertEquals("100%25 sure", GrpcWire.encodeMessage("100% sure").toString());
    assertEquals("caf%C3%A9%0Anext", GrpcWire.encodeMessage("café\nnext").toString());
  }

  @Test
  void recognisesGrpcContentTypes() {
    assertTrue(GrpcWire.isGrpcContentType("application/grpc"));
    assertTrue(GrpcWire.isGrpcContentType("application/grpc+proto"));
    assertTrue(GrpcWire.isGrpcContentType("Application/GRPC; charset=utf-8"));
    assertFalse(GrpcWire.isGrpcContentType("application/grpc-web"));
    assertFalse(GrpcWire.isGrpcContentType("application/json"));
    assertFalse(GrpcWire.isGrpcContentType(null));
  }

  @Test
  void readsAcceptEncodingLists() {
    assertTrue(GrpcWire.acceptsGzip("identity, gzip"));
    assertTrue(GrpcWire.acceptsGzip("gzip"));
    assertTrue(GrpcWire.acceptsGzip("deflate,\tGZIP ,identity"));
    assertFalse(GrpcWire.acceptsGzip("identity,deflate"));
    assertFalse(GrpcWire.acceptsGzip("x-gzip, gzipped, gzi"));
    assertFalse(GrpcWire.acceptsGzip(", ,"));
    assertFalse(GrpcWire.acceptsGzip(""));
    assertFalse(GrpcWire.acceptsGzip(null));
  }
}
