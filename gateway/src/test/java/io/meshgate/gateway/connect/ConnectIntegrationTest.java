package io.meshgate.gateway.connect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.Server;
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
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Connect protocol on the gateway's one port: connect-es from npm in Node.js over HTTP/1.1
 * and HTTP/2, binary and JSON, GET and gzip; and the wire format from a plain HTTP client —
 * error bodies and statuses, end-of-stream envelopes, trailers, timeouts, what needs
 * descriptors and what does not.
 */
class ConnectIntegrationTest {
  private static final String ECHO = "/meshgate.samples.echo.v1.EchoService/";

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static final io.meshgate.gateway.testing.MetadataProbe probe =
      new io.meshgate.gateway.testing.MetadataProbe("x-client-tag");
  private static Server backend;
  private static TestGateway gateway;
  private static TestGateway withoutDescriptors;
  private static final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(io.grpc.ServerInterceptors.intercept(
            new EchoServiceImpl("echo-backend", scheduler), probe)).build().start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(SampleFleet.descriptorSet(dir), backend.getPort()));
    withoutDescriptors = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(backend.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    withoutDescriptors.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  @ParameterizedTest(name = "HTTP/{0}, {1}")
  @CsvSource({"1.1, proto", "1.1, json", "2, proto", "2, json"})
  void aConnectClientFromNpmMakesEveryCallItsTransportCanSend(String httpVersion,
      String encoding) throws Exception {
    JsonObject result = JsonParser.parseString(NodeClients.node("client.mjs",
        "http://" + gateway.address(), SampleFleet.descriptorSet(dir).toString(), "connect",
        httpVersion, encoding)).getAsJsonObject();
    JsonObject unary = result.getAsJsonObject("unary").getAsJsonObject("ok");
    assertEquals("hello", unary.get("message").getAsString(), result.toString());
    assertEquals("[0,1,2,255]", unary.get("payload").toString());
    assertEquals("echo-backend", unary.get("servedBy").getAsString());
    assertEquals("{\"x-backend-header\":\"from-headers\",\"x-backend-trailer\":"
        + "\"from-trailers\"}", unary.get("metadata").toString(), "metadata to the client");
    assertTrue(probe.seen().contains("node"), "metadata to the backend");
    assertTrue(probe.seenNames().stream().noneMatch(n -> n.startsWith("connect-")),
        "Connect's own headers stay at the gateway: " + probe.seenNames());
    assertEquals("[\"tick\",\"tick\",\"tick\"]",
        result.getAsJsonObject("serverStream").get("ok").toString());
    JsonObject error = result.getAsJsonObject("error");
    assertEquals(5, error.get("code").getAsInt(), result.toString());
    assertEquals("no such echo", error.get("message").getAsString());
    assertEquals(4, result.getAsJsonObject("deadline").get("code").getAsInt(),
        result.toString());
    JsonObject streamError = result.getAsJsonObject("streamError");
    assertEquals(9, streamError.get("code").getAsInt(), result.toString());
    assertEquals("stopped midway", streamError.get("message").getAsString());
    assertEquals("by get", result.getAsJsonObject("get").get("ok").getAsString(),
        result.toString());
    JsonObject gzip = result.getAsJsonObject("gzip").getAsJsonObject("ok");
    assertEquals(4096, gzip.get("payloadBytes").getAsInt(), result.toString());
    if (httpVersion.equals("2")) {
      assertEquals(3, result.getAsJsonObject("clientStream").getAsJsonObject("ok")
          .get("receivedCount").getAsInt(), result.toString());
      assertEquals("[\"x\",\"y\"]", result.getAsJsonObject("bidi").get("ok").toString());
      assertEquals("[\"ping-1\",\"ping-2\"]",
          String.valueOf(result.getAsJsonObject("duplex").get("ok")),
          "full duplex: the first answer came before the second request: " + result);
    }
  }

  private static HttpResponse<byte[]> post(TestGateway to, String method, String contentType,
      byte[] body, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
            URI.create("http://" + to.address() + ECHO + method))
        .timeout(java.time.Duration.ofSeconds(10))
        .header("content-type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (!List.of(headers).contains("connect-protocol-version")) {
      request.header("connect-protocol-version", "1");
    }
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static JsonObject json(HttpResponse<byte[]> response) {
    return JsonParser.parseString(new String(response.body(), StandardCharsets.UTF_8))
        .getAsJsonObject();
  }

  @Test
  void unaryErrorsAreJsonWithConnectsStatusAndDecodedDetails() throws Exception {
    HttpResponse<byte[]> response = post(gateway, "Echo", "application/json",
        "{\"failCode\": 8, \"failMessage\": \"slow down\"}".getBytes(StandardCharsets.UTF_8));
    assertEquals(429, response.statusCode());
    assertEquals("application/json", response.headers().firstValue("content-type").orElse(""));
    JsonObject error = json(response);
    assertEquals("resource_exhausted", error.get("code").getAsString());
    assertEquals("slow down", error.get("message").getAsString());
    List<String> types = new ArrayList<>();
    error.getAsJsonArray("details").forEach(d -> types.add(
        d.getAsJsonObject().get("type").getAsString()));
    assertTrue(types.contains("google.rpc.ErrorInfo") && types.contains("google.rpc.RetryInfo"),
        error.toString());
    JsonObject errorInfo = error.getAsJsonArray("details").get(0).getAsJsonObject();
    assertEquals("ECHO_FAILURE", errorInfo.getAsJsonObject("debug").get("reason")
        .getAsString(), "the detail's JSON, from the loaded descriptors");
  }

  @Test
  void protoNeedsNoDescriptorsAndJsonSaysWhatToLoad() throws Exception {
    byte[] request = EchoRequest.newBuilder().setMessage("bytes").build().toByteArray();
    HttpResponse<byte[]> proto = post(withoutDescriptors, "Echo", "application/proto", request);
    assertEquals(200, proto.statusCode());
    assertEquals("bytes", EchoResponse.parseFrom(proto.body()).getMessage());
    HttpResponse<byte[]> json = post(withoutDescriptors, "Echo", "application/json",
        "{\"message\": \"x\"}".getBytes(StandardCharsets.UTF_8));
    assertEquals(501, json.statusCode());
    String message = json(json).get("message").getAsString();
    assertTrue(message.contains("JSON for meshgate.samples.echo.v1.EchoService/Echo needs its"
        + " descriptor") && message.contains("transcoding.descriptors")
        && message.contains("application/proto"), message);
  }

  @Test
  void streamsEndWithAnEnvelopeCarryingTheErrorAndTrailers() throws Exception {
    byte[] message = EchoRequest.newBuilder().setMessage("s").setResponseCount(2)
        .setFailCode(14).setFailMessage("gone away").build().toByteArray();
    HttpResponse<byte[]> response = post(gateway, "Expand", "application/connect+proto",
        ConnectWire.envelope(0, message));
    assertEquals(200, response.statusCode());
    assertEquals("application/connect+proto",
        response.headers().firstValue("content-type").orElse(""));
    byte[] body = response.body();
    List<Integer> flags = new ArrayList<>();
    List<byte[]> data = new ArrayList<>();
    for (int at = 0; at < body.length; ) {
      int length = ((body[at + 1] & 0xff) << 24) | ((body[at + 2] & 0xff) << 16)
          | ((body[at + 3] & 0xff) << 8) | (body[at + 4] & 0xff);
      flags.add(body[at] & 0xff);
      data.add(java.util.Arrays.copyOfRange(body, at + 5, at + 5 + length));
      at += 5 + length;
    }
    assertEquals(List.of(0, 0, 2), flags);
    assertEquals(1, EchoResponse.parseFrom(data.get(1)).getSequence());
    JsonObject end = JsonParser.parseString(new String(data.get(2), StandardCharsets.UTF_8))
        .getAsJsonObject();
    assertEquals("unavailable", end.getAsJsonObject("error").get("code").getAsString());
    assertEquals("gone away", end.getAsJsonObject("error").get("message").getAsString());
  }

  @Test
  void getCallsMethodsWithoutSideEffectsOnly() throws Exception {
    String message = Base64.getUrlEncoder().withoutPadding().encodeToString(
        EchoRequest.newBuilder().setMessage("cached").build().toByteArray());
    HttpResponse<byte[]> ok = http.send(HttpRequest.newBuilder(URI.create("http://"
            + gateway.address() + ECHO + "Echo?connect=v1&encoding=proto&base64=1&message="
            + message)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, ok.statusCode(), new String(ok.body()));
    assertEquals("cached", EchoResponse.parseFrom(ok.body()).getMessage());
    HttpResponse<byte[]> json = http.send(HttpRequest.newBuilder(URI.create("http://"
            + gateway.address() + ECHO + "Echo?connect=v1&encoding=json&message="
            + URLEncoder.encode("{\"message\":\"as json\"}", StandardCharsets.UTF_8)))
        .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals("as json", json(json).get("message").getAsString());
    HttpResponse<byte[]> sideEffects = http.send(HttpRequest.newBuilder(URI.create("http://"
            + gateway.address() + ECHO + "Collect?connect=v1&encoding=json&message=%7B%7D"))
        .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(501, sideEffects.statusCode());
    assertTrue(json(sideEffects).get("message").getAsString().contains("call it with POST"));
  }

  @Test
  void timeoutsCompressionAndBadRequestsAreHandledAsTheSpecSays() throws Exception {
    long started = System.nanoTime();
    HttpResponse<byte[]> late = post(gateway, "Echo", "application/json",
        "{\"delayMillis\": 5000}".getBytes(StandardCharsets.UTF_8), "connect-timeout-ms", "200");
    assertEquals(504, late.statusCode());
    assertEquals("deadline_exceeded", json(late).get("code").getAsString());
    assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(4));

    ByteArrayOutputStream zipped = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(zipped)) {
      gzip.write("{\"message\": \"unzipped\"}".getBytes(StandardCharsets.UTF_8));
    }
    HttpResponse<byte[]> gzip = post(gateway, "Echo", "application/json", zipped.toByteArray(),
        "content-encoding", "gzip");
    assertEquals("unzipped", json(gzip).get("message").getAsString());

    HttpResponse<byte[]> badTimeout = post(gateway, "Echo", "application/json",
        "{}".getBytes(StandardCharsets.UTF_8), "connect-timeout-ms", "soon");
    assertEquals(400, badTimeout.statusCode());
    assertTrue(json(badTimeout).get("message").getAsString().contains("Connect-Timeout-Ms"));
    HttpResponse<byte[]> badJson = post(gateway, "Echo", "application/json",
        "{\"mesage\": 1}".getBytes(StandardCharsets.UTF_8));
    assertEquals(400, badJson.statusCode());
    assertEquals("invalid_argument", json(badJson).get("code").getAsString());
    HttpResponse<byte[]> xml = post(gateway, "Echo", "application/connect+xml", new byte[0]);
    assertEquals(415, xml.statusCode());
    assertTrue(xml.headers().firstValue("accept-post").orElse("").contains("application/proto"));
    HttpResponse<byte[]> version = post(gateway, "Echo", "application/json", "{}".getBytes(),
        "connect-protocol-version", "2");
    assertEquals(400, version.statusCode());
    HttpResponse<byte[]> unknownFlag = post(gateway, "Expand", "application/connect+proto",
        new byte[] {0x10, 0, 0, 0, 0});
    assertEquals(200, unknownFlag.statusCode(), "a stream's error is in its last envelope");
    String end = new String(unknownFlag.body(), 5, unknownFlag.body().length - 5,
        StandardCharsets.UTF_8);
    assertTrue(end.contains("invalid_argument") && end.contains("unknown flags 0x10"), end);
  }
}
