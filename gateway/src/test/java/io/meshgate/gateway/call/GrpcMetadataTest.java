package io.meshgate.gateway.call;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.grpc.Metadata;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Base64;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class GrpcMetadataTest {
  private static final Metadata.Key<String> TENANT =
      Metadata.Key.of("x-tenant", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<byte[]> TRACE =
      Metadata.Key.of("trace-bin", Metadata.BINARY_BYTE_MARSHALLER);

  @Test
  void responseMetadataBecomesHeadersWithBinaryValuesInBase64() {
    Metadata metadata = new Metadata();
    metadata.put(TENANT, "a");
    metadata.put(TRACE, new byte[] {0, (byte) 0xff, 10, 13});
    metadata.put(TENANT, "b");
    Http2Headers headers = new DefaultHttp2Headers(false);

    GrpcMetadata.addTo(metadata, headers);

    assertEquals(List.of("a", "b"), values(headers, "x-tenant"));
    assertEquals(List.of(Base64.getEncoder().withoutPadding()
        .encodeToString(new byte[] {0, (byte) 0xff, 10, 13})), values(headers, "trace-bin"));
  }

  @Test
  void transportAndStatusHeadersAreLeftToTheGateway() {
    Metadata metadata = new Metadata();
    for (String name : List.of("content-type", "grpc-encoding", "grpc-accept-encoding",
        "grpc-status", "grpc-message", "te", "connection", "keep-alive")) {
      metadata.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), "x");
    }
    metadata.put(TENANT, "kept");
    Http2Headers headers = new DefaultHttp2Headers(false);

    GrpcMetadata.addTo(metadata, headers);

    assertEquals(1, headers.size(), headers.toString());
    assertEquals("kept", headers.get("x-tenant").toString());
  }

  @Test
  void emptyMetadataAddsNothing() {
    Http2Headers headers = new DefaultHttp2Headers(false);
    GrpcMetadata.addTo(new Metadata(), headers);
    assertFalse(headers.iterator().hasNext());
  }

  @Test
  void requestHeadersBecomeMetadataWithForwardedFor() {
    Http2Headers headers = new DefaultHttp2Headers(false)
        .method("POST").path("/a.B/C")
        .add("x-tenant", "t1")
        .add("trace-bin", Base64.getEncoder().encodeToString(new byte[] {1, 2, 3}))
        .add("x-forwarded-for", "10.0.0.1")
        .add("te", "trailers");

    Metadata metadata = GrpcMetadata.toMetadata(headers, "127.0.0.1");

    assertEquals("t1", metadata.get(TENANT));
    assertEquals(List.of((byte) 1, (byte) 2, (byte) 3), bytes(metadata.get(TRACE)));
    assertEquals("10.0.0.1, 127.0.0.1", metadata.get(
        Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER)));
    assertNull(metadata.get(Metadata.Key.of("te", Metadata.ASCII_STRING_MARSHALLER)));
  }

  @Test
  void http1HeadersKeepGrpcJavasRulesForNamesAndValues() {
    // HTTP/1.1 names keep the client's case; a value outside ASCII is sent as grpc-java's ASCII
    // marshaller would send the string; a name grpc-java would refuse as a key is left out.
    List<java.util.Map.Entry<CharSequence, CharSequence>> headers = List.of(
        java.util.Map.entry("X-Tenant", "caf\u00e9"),
        java.util.Map.entry("x-odd!name", "dropped"),
        java.util.Map.entry("Trace-Bin", Base64.getEncoder().encodeToString(new byte[] {7})),
        java.util.Map.entry("X-Forwarded-For", "10.0.0.1"),
        java.util.Map.entry("x-tenant", "second"));

    Metadata metadata = GrpcMetadata.toMetadata(headers, "127.0.0.1", java.util.Set.of());

    assertEquals(List.of("caf?", "second"), list(metadata.getAll(TENANT)));
    assertEquals(List.of((byte) 7), bytes(metadata.get(TRACE)));
    assertEquals(java.util.Set.of("x-tenant", "trace-bin", "x-forwarded-for"), metadata.keys());
    assertEquals("10.0.0.1, 127.0.0.1", metadata.get(
        Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER)));
  }

  @Test
  void requestMetadataTakesPoliciesChangesAndGoesUpstreamInOrder() {
    Http2Headers headers = new DefaultHttp2Headers(false);
    for (int i = 0; i < 6; i++) {
      headers.add("x-h" + i, "v" + i); // past the first array's room
    }
    Metadata metadata = GrpcMetadata.toMetadata(headers, "10.1.1.1");
    metadata.removeAll(Metadata.Key.of("x-h2", Metadata.ASCII_STRING_MARSHALLER));
    metadata.put(TENANT, "added");
    Http2Headers upstream = new DefaultHttp2Headers(false);

    GrpcMetadata.addTo(metadata, upstream);

    List<String> names = new java.util.ArrayList<>();
    upstream.forEach(h -> names.add(h.getKey() + "=" + h.getValue()));
    assertEquals(List.of("x-h0=v0", "x-h1=v1", "x-h3=v3", "x-h4=v4", "x-h5=v5",
        "x-forwarded-for=10.1.1.1", "x-tenant=added"), names);
  }

  @Test
  void invalidBase64InABinaryHeaderFailsTheCall() {
    Http2Headers headers = new DefaultHttp2Headers(false).add("trace-bin", "not base64!");
    assertNull(GrpcMetadata.toMetadata(headers, null));
  }

  private static List<String> values(Http2Headers headers, String name) {
    return headers.getAll(name).stream().map(CharSequence::toString)
        .collect(Collectors.toList());
  }

  private static List<String> list(Iterable<String> values) {
    List<String> list = new java.util.ArrayList<>();
    values.forEach(list::add);
    return list;
  }

  private static List<Byte> bytes(byte[] value) {
    List<Byte> list = new java.util.ArrayList<>();
    for (byte b : value) {
      list.add(b);
    }
    return list;
  }
}
