package io.meshgate.gateway.call;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Metadata;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OutboundHeadersTest {
  private static final AsciiString TE = AsciiString.of("te");

  /** Through HPACK and back, by a decoder that checks names, values and pseudo-header order. */
  private static Http2Headers wire(Http2Headers headers) throws Exception {
    ByteBuf block = Unpooled.buffer();
    try {
      new DefaultHttp2HeadersEncoder().encodeHeaders(3, headers, block);
      return new DefaultHttp2HeadersDecoder(true).decodeHeaders(3, block);
    } finally {
      block.release();
    }
  }

  private static List<String> names(Http2Headers headers) {
    List<String> names = new ArrayList<>();
    for (Map.Entry<CharSequence, CharSequence> header : headers) {
      names.add(header.getKey().toString());
    }
    return names;
  }

  @Test
  void requestHeadersArriveWithPseudoHeadersFirstAndEveryHeaderAdded() throws Exception {
    OutboundHeaders built = new OutboundHeaders().add(TE, "trailers");
    for (int i = 0; i < 20; i++) { // past the first array
      built.add(AsciiString.of("x-" + i), "v" + i);
    }
    Metadata metadata = new Metadata();
    metadata.put(Metadata.Key.of("trace-bin", Metadata.BINARY_BYTE_MARSHALLER), new byte[] {1, 2});
    GrpcMetadata.addTo(metadata, built);

    Http2Headers decoded = wire(built.request(AsciiString.of("POST"), AsciiString.of("http"),
        "/svc/Method", "backend:8080"));

    assertEquals(List.of(":authority", ":method", ":path", ":scheme"),
        names(decoded).subList(0, 4).stream().sorted().toList());
    assertEquals("POST", decoded.method().toString());
    assertEquals("/svc/Method", decoded.path().toString());
    assertEquals("backend:8080", decoded.authority().toString());
    assertEquals("v19", decoded.get("x-19").toString());
    assertEquals("AQI", decoded.get("trace-bin").toString().replace("=", ""));
    assertEquals("trailers", decoded.get("te").toString());
    assertEquals(4 + 1 + 20 + 1, decoded.size());
  }

  @Test
  void responseHeadersAndTrailersCarryWhatWasAdded() throws Exception {
    Http2Headers response = wire(new OutboundHeaders()
        .add(AsciiString.of("content-type"), "application/grpc")
        .response(AsciiString.of("200")));
    assertEquals("200", response.status().toString());
    assertEquals(List.of(":status", "content-type"), names(response));

    Http2Headers trailers = wire(new OutboundHeaders()
        .add(AsciiString.of("grpc-status"), "0").trailers());
    assertEquals(List.of("grpc-status"), names(trailers));
  }

  @Test
  void headersAreTakenOnce() {
    OutboundHeaders built = new OutboundHeaders().add(TE, "trailers");
    built.trailers();
    assertThrows(IllegalStateException.class, built::trailers);
    assertThrows(IllegalStateException.class, () -> built.add(TE, "again"));
  }
}
