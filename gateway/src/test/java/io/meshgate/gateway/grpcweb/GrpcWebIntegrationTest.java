package io.meshgate.gateway.grpcweb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.NodeClients;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * gRPC-Web on the gateway's one port: a real gRPC-Web client (connect-es from npm, in Node.js)
 * over HTTP/1.1 and HTTP/2, and the wire format byte by byte from a plain HTTP client — binary
 * and base64 text, trailer frames and trailers-only answers, CORS, deadlines, policies and
 * malformed bodies — against a real grpc-java backend.
 */
class GrpcWebIntegrationTest {
  private static final String ECHO = "/meshgate.samples.echo.v1.EchoService/";
  private static final String ORIGIN = "https://app.example.com";

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static final List<String> clientTags = new CopyOnWriteArrayList<>();
  private static final List<String> grpcWebHeaders = new CopyOnWriteArrayList<>();
  private static EchoServiceImpl echo;
  private static Server backend;
  private static TestGateway gateway;
  private static final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    echo = new EchoServiceImpl("echo-backend", scheduler);
    ServerInterceptor recordMetadata = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        String tag = headers.get(Metadata.Key.of("x-client-tag",
            Metadata.ASCII_STRING_MARSHALLER));
        if (tag != null) {
          clientTags.add(tag);
        }
        if (headers.containsKey(Metadata.Key.of("x-grpc-web", Metadata.ASCII_STRING_MARSHALLER))) {
          grpcWebHeaders.add(call.getMethodDescriptor().getFullMethodName());
        }
        return next.startCall(call, headers);
      }
    };
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, recordMetadata,
            new io.meshgate.gateway.testing.MetadataProbe("x-client-tag"))).build().start();
    gateway = TestGateway.start("""
        transcoding:
          descriptors: ["%s"]
          cors: {allowOrigins: ["%s"]}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{name: echo, match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(SampleFleet.descriptorSet(dir), ORIGIN, backend.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  @ParameterizedTest(name = "HTTP/{0}")
  @ValueSource(strings = {"1.1", "2"})
  void aGrpcWebClientFromNpmMakesEveryCallItsTransportCanSend(String httpVersion)
      throws Exception {
    JsonObject result = JsonParser.parseString(NodeClients.node("client.mjs",
        "http://" + gateway.address(), SampleFleet.descriptorSet(dir).toString(), "grpc-web",
        httpVersion, "proto")).getAsJsonObject();
    JsonObject unary = result.getAsJsonObject("unary").getAsJsonObject("ok");
    assertEquals("hello", unary.get("message").getAsString(), result.toString());
    assertEquals("[0,1,2,255]", unary.get("payload").toString());
    assertEquals("echo-backend", unary.get("servedBy").getAsString());
    assertEquals("{\"x-backend-header\":\"from-headers\",\"x-backend-trailer\":"
        + "\"from-trailers\"}", unary.get("metadata").toString(), "metadata to the client");
    assertTrue(clientTags.contains("node"), "the client's metadata reached the backend");
    assertTrue(grpcWebHeaders.isEmpty(), "gRPC-Web's own headers stay at the gateway: "
        + grpcWebHeaders);
    assertEquals("[\"tick\",\"tick\",\"tick\"]",
        result.getAsJsonObject("serverStream").get("ok").toString());
    JsonObject error = result.getAsJsonObject("error");
    assertEquals(5, error.get("code").getAsInt(), result.toString()); // NOT_FOUND
    assertEquals("no such echo", error.get("message").getAsString());
    assertEquals(4, result.getAsJsonObject("deadline").get("code").getAsInt()); // DEADLINE
    JsonObject streamError = result.getAsJsonObject("streamError");
    assertEquals(9, streamError.get("code").getAsInt(), result.toString());
    assertEquals("stopped midway", streamError.get("message").getAsString());
    if (httpVersion.equals("2")) {
      JsonObject collected = result.getAsJsonObject("clientStream");
      assertEquals(3, collected.getAsJsonObject("ok").get("receivedCount").getAsInt(),
          result.toString());
      assertEquals("[\"x\",\"y\"]", result.getAsJsonObject("bidi").get("ok").toString());
      assertEquals("[\"ping-1\",\"ping-2\"]",
          String.valueOf(result.getAsJsonObject("duplex").get("ok")),
          "full duplex: the first answer came before the second request: " + result);
    }
  }

  private static byte[] frame(byte[] message) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0);
    out.write(message.length >>> 24);
    out.write(message.length >>> 16);
    out.write(message.length >>> 8);
    out.write(message.length);
    out.writeBytes(message);
    return out.toByteArray();
  }

  private static HttpResponse<byte[]> post(String method, String contentType, byte[] body,
      String... headers) throws Exception {
    return post(gateway, method, contentType, body, headers);
  }

  private static HttpResponse<byte[]> post(TestGateway to, String method, String contentType,
      byte[] body, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
            URI.create("http://" + to.address() + ECHO + method))
        .timeout(java.time.Duration.ofSeconds(10))
        .header("content-type", contentType).header("x-grpc-web", "1")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** A response body's frames: messages, then the trailer frame's text as the last element. */
  private static List<byte[]> frames(byte[] body) {
    List<byte[]> frames = new ArrayList<>();
    int at = 0;
    while (at < body.length) {
      int length = ((body[at + 1] & 0xff) << 24) | ((body[at + 2] & 0xff) << 16)
          | ((body[at + 3] & 0xff) << 8) | (body[at + 4] & 0xff);
      byte[] payload = java.util.Arrays.copyOfRange(body, at + 5, at + 5 + length);
      assertEquals(at + 5 + length == body.length ? 0x80 : 0, body[at] & 0xff,
          "only the last frame is the trailer frame");
      frames.add(payload);
      at += 5 + length;
    }
    return frames;
  }

  @Test
  void theWireFormatIsMessagesThenATrailerFrame() throws Exception {
    HttpResponse<byte[]> response = post("Echo", "application/grpc-web+proto",
        frame(EchoRequest.newBuilder().setMessage("wire").build().toByteArray()));
    assertEquals(200, response.statusCode());
    assertEquals("application/grpc-web+proto",
        response.headers().firstValue("content-type").orElse(""));
    List<byte[]> frames = frames(response.body());
    assertEquals(2, frames.size());
    assertEquals("wire", EchoResponse.parseFrom(frames.get(0)).getMessage());
    assertEquals("grpc-status:0\r\nx-backend-trailer:from-trailers\r\n",
        new String(frames.get(1), StandardCharsets.US_ASCII), "the status and the trailers");
  }

  @Test
  void theTextVariantIsBase64BothWaysEvenInPaddedChunks() throws Exception {
    byte[] request = frame(EchoRequest.newBuilder().setMessage("b64").setResponseCount(3)
        .build().toByteArray());
    // Sent as two chunks, each padded on its own, as streaming clients do.
    Base64.Encoder base64 = Base64.getEncoder();
    String body = base64.encodeToString(java.util.Arrays.copyOfRange(request, 0, 4))
        + base64.encodeToString(java.util.Arrays.copyOfRange(request, 4, request.length));
    HttpResponse<byte[]> response = post("Expand", "application/grpc-web-text",
        body.getBytes(StandardCharsets.US_ASCII), "accept", "application/grpc-web-text");
    assertEquals("application/grpc-web-text",
        response.headers().firstValue("content-type").orElse(""));
    ByteArrayOutputStream decoded = new ByteArrayOutputStream();
    String text = new String(response.body(), StandardCharsets.US_ASCII);
    int start = 0;
    for (int i = 0; i < text.length(); i += 4) {
      if (text.charAt(i + 3) == '=' || i + 4 == text.length()) {
        decoded.writeBytes(Base64.getDecoder().decode(text.substring(start, i + 4)));
        start = i + 4;
      }
    }
    List<byte[]> frames = frames(decoded.toByteArray());
    assertEquals(4, frames.size(), "three messages and the trailers");
    for (int i = 0; i < 3; i++) {
      assertEquals(i, EchoResponse.parseFrom(frames.get(i)).getSequence());
    }
  }

  @Test
  void aFailureWithoutMessagesIsTrailersOnly() throws Exception {
    HttpResponse<byte[]> response = post("Echo", "application/grpc-web",
        frame(EchoRequest.newBuilder().setFailCode(7).setFailMessage("not yours: 100%")
            .build().toByteArray()));
    assertEquals(200, response.statusCode());
    assertEquals("7", response.headers().firstValue("grpc-status").orElse(""));
    assertEquals("not yours: 100%25", response.headers().firstValue("grpc-message").orElse(""));
    assertTrue(response.headers().firstValue("grpc-status-details-bin").isPresent(),
        "the backend's error details go along");
    assertEquals(0, response.body().length);
  }

  @Test
  void grpcTimeoutIsHonoured() throws Exception {
    long started = System.nanoTime();
    HttpResponse<byte[]> response = post("Echo", "application/grpc-web",
        frame(EchoRequest.newBuilder().setDelayMillis(5_000).build().toByteArray()),
        "grpc-timeout", "200m");
    assertEquals("4", response.headers().firstValue("grpc-status").orElse(""),
        response.headers().toString());
    assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(4),
        "answered at the deadline, not when the backend would have");
  }

  @Test
  void malformedBodiesAndWrongMediaTypesGetClearAnswers() throws Exception {
    byte[] whole = frame(EchoRequest.newBuilder().setMessage("cut").build().toByteArray());
    HttpResponse<byte[]> truncated = post("Echo", "application/grpc-web",
        java.util.Arrays.copyOf(whole, whole.length - 2));
    assertEquals("3", truncated.headers().firstValue("grpc-status").orElse(""));
    assertTrue(truncated.headers().firstValue("grpc-message").orElse("")
        .contains("ends inside a message"), truncated.headers().toString());
    HttpResponse<byte[]> notBase64 = post("Echo", "application/grpc-web-text",
        "@@@@".getBytes(StandardCharsets.US_ASCII));
    assertEquals("3", notBase64.headers().firstValue("grpc-status").orElse(""));
    byte[] huge = {0, 0x7f, 0, 0, 0, 1, 2, 3}; // declares a 2 GiB message
    HttpResponse<byte[]> oversized = post("Echo", "application/grpc-web", huge);
    assertEquals("8", oversized.headers().firstValue("grpc-status").orElse(""));
    assertTrue(oversized.headers().firstValue("grpc-message").orElse("")
        .contains("limits.maxMessageBytes"), oversized.headers().toString());
    HttpResponse<byte[]> unknownFlag = post("Echo", "application/grpc-web",
        new byte[] {0x40, 0, 0, 0, 0});
    assertEquals("3", unknownFlag.headers().firstValue("grpc-status").orElse(""));
    HttpResponse<byte[]> json = post("Echo", "application/grpc-web+json", "{}".getBytes());
    assertEquals(415, json.statusCode());
    assertTrue(new String(json.body()).contains("application/grpc-web+proto"));
  }

  @Test
  void theRoutesPoliciesApply() throws Exception {
    try (TestGateway limited = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - match: {servicePrefix: ""}
            cluster: echo
            rateLimits: [{key: route, rate: 1/h, burst: 1}]
        """.formatted(backend.getPort()))) {
      byte[] request = frame(EchoRequest.newBuilder().setMessage("once").build().toByteArray());
      HttpResponse<byte[]> first = post(limited, "Collect", "application/grpc-web", request);
      assertEquals("once", EchoResponse.parseFrom(frames(first.body()).get(0)).getMessage());
      HttpResponse<byte[]> refused = post(limited, "Collect", "application/grpc-web", request);
      assertEquals("8", refused.headers().firstValue("grpc-status").orElse(""),
          refused.headers().toString());
    assertTrue(refused.headers().firstValue("retry-after").isPresent());
      assertTrue(refused.headers().firstValue("grpc-status-details-bin").isPresent(),
          "RetryInfo for the client");
    }
  }

  @Test
  void corsPreflightsAndResponsesCarryGrpcWebsHeaders() throws Exception {
    HttpResponse<String> preflight = http.send(HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + ECHO + "Echo"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("origin", ORIGIN).header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web,x-user-agent")
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(204, preflight.statusCode(), preflight.body());
    assertEquals(ORIGIN, preflight.headers().firstValue("access-control-allow-origin")
        .orElse(""));
    assertTrue(preflight.headers().firstValue("access-control-allow-headers").orElse("")
        .contains("x-grpc-web"));
    HttpResponse<byte[]> call = post("Echo", "application/grpc-web",
        frame(EchoRequest.newBuilder().setMessage("cors").build().toByteArray()),
        "origin", ORIGIN);
    String exposed = call.headers().firstValue("access-control-expose-headers").orElse("");
    assertTrue(exposed.contains("grpc-status") && exposed.contains("grpc-message"), exposed);
    HttpResponse<String> stranger = http.send(HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + ECHO + "Echo"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("origin", "https://evil.example").header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web")
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(403, stranger.statusCode());
  }
}
