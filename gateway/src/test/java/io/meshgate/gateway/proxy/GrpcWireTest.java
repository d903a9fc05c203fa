package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GrpcWireTest {
  @Test
  void percentEncodesStatusMessagesAsTheSpecSays() {
    assertEquals("plain text", io.meshgate.gateway.call.GrpcMetadata.encodeMessage("plain text").toString());
    assertEquals("100%25 sure", io.meshgate.gateway.call.GrpcMetadata.encodeMessage("100% sure").toString());
    assertEquals("caf%C3%A9%0Anext", io.meshgate.gateway.call.GrpcMetadata.encodeMessage("café\nnext").toString());
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
