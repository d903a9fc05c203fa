package io.meshgate.gateway.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.meshgate.gateway.testing.OtlpReceiver;
import io.meshgate.gateway.testing.OtlpReceiver.Span;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import io.meshgate.testing.Await;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tracing end to end: a caller's W3C trace context goes in, the gateway's spans come out at an
 * OTLP/HTTP receiver, and the echo backend shows the traceparent it was given.
 */
@Timeout(60)
class TracingIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final String ECHO = "meshgate.samples.echo.v1.EchoService";

  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static OtlpReceiver collector;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    collector = OtlpReceiver.start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: [%s]}
        tracing: {endpoint: "%s", serviceName: meshgate-test, exportInterval: 50ms}
        clusters:
          - {name: echo, endpoints: [127.0.0.1:%d]}
          - {name: nowhere, endpoints: [127.0.0.1:1]}
        routes:
          - {name: echo, match: {service: %s}, cluster: echo}
          - name: users
            match: {service: meshgate.samples.users.v1.UserDirectory}
            cluster: nowhere
            retry: {maxAttempts: 3, initialBackoff: 1ms, maxBackoff: 2ms}
        """.formatted(SampleFleet.descriptorSet(dir), collector.endpoint(),
        fleet.server(SampleServer.Kind.ECHO).port(), ECHO));
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (collector != null) {
      collector.close();
    }
    if (fleet != null) {
      fleet.close();
    }
  }

  private static String hex(int bytes) {
    byte[] b = new byte[bytes];
    ThreadLocalRandom.current().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static List<Span> trace(String traceId, int count) {
    return Await.until(count + " spans of trace " + traceId, WAIT,
        () -> collector.spans().stream().filter(s -> s.traceId().equals(traceId)).toList(),
        spans -> spans.size() >= count);
  }

  private static Span only(List<Span> spans, int kind) {
    List<Span> ofKind = spans.stream().filter(s -> s.kind() == kind).toList();
    assertEquals(1, ofKind.size(), "spans of kind " + kind + ": " + spans);
    return ofKind.get(0);
  }

  @Test
  void aGrpcCallJoinsTheCallersTraceAndTheBackendGetsTheClientSpanAsParent() {
    String traceId = hex(16);
    String callerSpan = hex(8);
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER),
        "00-" + traceId + "-" + callerSpan + "-01");
    headers.put(Metadata.Key.of("x-echo-headers", Metadata.ASCII_STRING_MARSHALLER),
        "traceparent");
    AtomicReference<Metadata> response = new AtomicReference<>();
    EchoServiceGrpc.newBlockingStub(gateway.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers),
            MetadataUtils.newCaptureMetadataInterceptor(response, new AtomicReference<>()))
        .echo(EchoRequest.newBuilder().setMessage("traced").build());
    String seen = response.get().get(Metadata.Key.of("x-echo-header-traceparent",
        Metadata.ASCII_STRING_MARSHALLER));
    String[] parts = seen.split("-");
    assertEquals(traceId, parts[1], "the backend is in the caller's trace");

    List<Span> spans = trace(traceId, 2);
    Span server = only(spans, Span.SERVER);
    Span client = only(spans, Span.CLIENT);
    assertEquals(callerSpan, server.parentSpanId(), "the server span's parent is the caller");
    assertEquals(server.spanId(), client.parentSpanId());
    assertEquals(client.spanId(), parts[2], "the backend's parent is the gateway's client span");
    assertEquals(ECHO + "/Echo", server.name());
    assertEquals(ECHO + "/Echo", client.name());
    for (Span span : List.of(server, client)) {
      assertEquals("grpc", span.attributes().get("rpc.system"));
      assertEquals(ECHO, span.attributes().get("rpc.service"));
      assertEquals("Echo", span.attributes().get("rpc.method"));
      assertEquals(0L, span.attributes().get("rpc.grpc.status_code"));
    }
    assertEquals("echo", server.attributes().get("meshgate.route"));
    assertEquals("127.0.0.1", client.attributes().get("network.peer.address"));
  }

  @Test
  void aRestCallGetsHttpAttributesAndACallWithoutContextStartsATrace() throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + "/v1/echo"))
        .header("grpc-metadata-x-echo-headers", "traceparent")
        .POST(HttpRequest.BodyPublishers.ofString("{\"message\":\"rest\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    String[] seen = response.headers().firstValue("grpc-metadata-x-echo-header-traceparent")
        .orElseThrow().split("-");
    List<Span> spans = trace(seen[1], 2);
    Span server = only(spans, Span.SERVER);
    Span client = only(spans, Span.CLIENT);
    assertEquals("", server.parentSpanId(), "no caller context: the gateway starts the trace");
    assertEquals(seen[2], client.spanId());
    assertEquals("POST", server.attributes().get("http.request.method"));
    assertEquals("/v1/echo", server.attributes().get("url.path"));
    assertEquals(200L, server.attributes().get("http.response.status_code"));
  }

  @Test
  void everyRetryAttemptHasItsOwnClientSpanUnderTheServerSpan() {
    String traceId = hex(16);
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER),
        "00-" + traceId + "-" + hex(8) + "-01");
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> UserDirectoryGrpc.newBlockingStub(gateway.channel())
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .getUser(GetUserRequest.newBuilder().setUserId("u-1").build()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    List<Span> spans = trace(traceId, 4);
    Span server = only(spans, Span.SERVER);
    List<Span> attempts = spans.stream().filter(s -> s.kind() == Span.CLIENT).toList();
    assertEquals(3, attempts.size());
    for (Span attempt : attempts) {
      assertEquals(server.spanId(), attempt.parentSpanId());
      assertEquals(2, attempt.statusCode(), "an attempt that failed is an error span");
      assertEquals(14L, attempt.attributes().get("rpc.grpc.status_code"));
    }
    assertEquals(2, server.statusCode(), "UNAVAILABLE is a server error");
    assertNotEquals(attempts.get(0).spanId(), attempts.get(1).spanId());
    assertTrue(server.attributes().containsKey("client.address"));
  }
}
