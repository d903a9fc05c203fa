package io.meshgate.gateway.rest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshgate.gateway.testing.HttpClients;
import io.meshgate.gateway.testing.HttpClients.Protocol;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * REST clients calling the sample services through the gateway, over HTTP/1.1 and HTTP/2 (TLS,
 * ALPN h2): every google.api.http feature end to end, as a user of the REST API sees it.
 */
class RestTranscodingIntegrationTest {
  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;
  private static final Map<Protocol, HttpClient> CLIENTS = new EnumMap<>(Protocol.class);

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    Path descriptors = SampleFleet.descriptorSet(dir);
    gateway = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          workerThreads: 2
          tls: {certFile: tls/server.pem, keyFile: tls/server.key, allowPlaintext: true}
        admin: {host: 127.0.0.1, port: 0}
        transcoding:
          descriptors: [%s]
          forwardHeaders: [x-request-id]
        """.formatted(descriptors) + fleet.clustersAndRoutes());
    for (Protocol protocol : Protocol.values()) {
      CLIENTS.put(protocol, HttpClients.client(protocol));
    }
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (fleet != null) {
      fleet.close();
    }
  }

  static HttpRequest.Builder request(Protocol protocol, String pathAndQuery) {
    return HttpRequest.newBuilder(protocol.uri(gateway.port(), pathAndQuery));
  }

  static HttpResponse<String> send(Protocol protocol, HttpRequest.Builder request)
      throws Exception {
    HttpResponse<String> response = CLIENTS.get(protocol).send(request.build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(protocol == Protocol.HTTP_2 ? HttpClient.Version.HTTP_2
        : HttpClient.Version.HTTP_1_1, response.version(), "the protocol under test");
    return response;
  }

  static HttpResponse<String> get(Protocol protocol, String pathAndQuery) throws Exception {
    return send(protocol, request(protocol, pathAndQuery).GET());
  }

  static HttpResponse<String> send(Protocol protocol, String method, String pathAndQuery,
      String json) throws Exception {
    return send(protocol, request(protocol, pathAndQuery)
        .header("content-type", "application/json")
        .method(method, HttpRequest.BodyPublishers.ofString(json)));
  }

  static JsonObject json(HttpResponse<String> response) {
    return JsonParser.parseString(response.body()).getAsJsonObject();
  }

  // ---- Unary calls, bodies and bindings ------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void getWithAPathVariable(Protocol protocol) throws Exception {
    HttpResponse<String> response = get(protocol, "/v1/users/u-1");
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("application/json", response.headers().firstValue("content-type").orElse(""));
    JsonObject user = json(response);
    assertEquals("Ada Lovelace", user.get("displayName").getAsString());
    assertEquals("ROLE_ADMIN", user.get("role").getAsString());
    assertTrue(user.get("createTime").getAsString().endsWith("Z"), "Timestamp as RFC 3339");
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void postTheWholeRequestAsTheBody(Protocol protocol) throws Exception {
    HttpResponse<String> response = send(protocol, "POST", "/v1/echo",
        "{\"message\":\"hi\",\"payload\":\"AAEC\",\"response_size\":0}");
    assertEquals(200, response.statusCode(), response.body());
    JsonObject echo = json(response);
    assertEquals("hi", echo.get("message").getAsString());
    assertEquals("AAEC", echo.get("payload").getAsString(), "bytes are base64 both ways");
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void bodyFieldAndPathVariableIntoANestedField(Protocol protocol) throws Exception {
    String id = "u-" + protocol.name();
    HttpResponse<String> created = send(protocol, "POST", "/v1/users",
        "{\"userId\":\"" + id + "\",\"displayName\":\"Edsger\",\"email\":\"e@example.com\"}");
    assertEquals(200, created.statusCode(), created.body());
    HttpResponse<String> updated = send(protocol, "PATCH",
        "/v1/users/" + id + "?updateMask=displayName", "{\"displayName\":\"Edsger W.\","
            + "\"email\":\"ignored@example.com\"}");
    assertEquals(200, updated.statusCode(), updated.body());
    assertEquals("Edsger W.", json(updated).get("displayName").getAsString());
    assertEquals("e@example.com", json(updated).get("email").getAsString(),
        "only the masked field changed");
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void headAnswersLikeGetWithoutABody(Protocol protocol) throws Exception {
    HttpResponse<String> head = send(protocol, request(protocol, "/v1/users/u-2")
        .method("HEAD", HttpRequest.BodyPublishers.noBody()));
    assertEquals(200, head.statusCode());
    assertEquals("", head.body());
    assertEquals("application/json", head.headers().firstValue("content-type").orElse(""));
  }

  // ---- Streaming -------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void serverStreamingIsNewlineDelimitedJson(Protocol protocol) throws Exception {
    HttpResponse<String> response = get(protocol, "/v1/echo:expand?message=m&responseCount=5"
        + "&responseSize=3");
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("application/x-ndjson",
        response.headers().firstValue("content-type").orElse(""));
    String[] lines = response.body().split("\n");
    assertEquals(5, lines.length, response.body());
    for (int i = 0; i < 5; i++) {
      JsonObject message = JsonParser.parseString(lines[i]).getAsJsonObject();
      assertEquals(i == 0 ? null : i, message.has("sequence")
          ? message.get("sequence").getAsInt() : null);
      assertEquals("AAAA", message.get("payload").getAsString());
    }
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void serverStreamingAsServerSentEvents(Protocol protocol) throws Exception {
    HttpResponse<String> response = send(protocol, request(protocol,
        "/v1/users?limit=2").header("accept", "text/event-stream").GET());
    assertEquals(200, response.statusCode());
    assertEquals("text/event-stream", response.headers().firstValue("content-type").orElse(""));
    String[] events = response.body().split("\n\n");
    assertEquals(2, events.length, response.body());
    assertTrue(events[0].startsWith("data: {\"userId\":\"u-1\""), events[0]);
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void anErrorAfterTheFirstMessageEndsTheStreamWithAnErrorObject(Protocol protocol)
      throws Exception {
    HttpResponse<String> ndjson = get(protocol,
        "/v1/echo:expand?responseCount=2&failCode=9&failMessage=gave%20up");
    assertEquals(200, ndjson.statusCode(), "the status was sent with the first message");
    String[] lines = ndjson.body().split("\n");
    assertEquals(3, lines.length, ndjson.body());
    JsonObject error = JsonParser.parseString(lines[2]).getAsJsonObject()
        .getAsJsonObject("error");
    assertEquals(9, error.get("code").getAsInt());
    assertEquals("gave up", error.get("message").getAsString());
    assertEquals("type.googleapis.com/google.rpc.ErrorInfo", error.getAsJsonArray("details")
        .get(0).getAsJsonObject().get("@type").getAsString());

    HttpResponse<String> sse = send(protocol, request(protocol,
        "/v1/echo:expand?responseCount=1&failCode=9").header("accept", "text/event-stream")
        .GET());
    assertTrue(sse.body().contains("event: error\ndata: {\"code\":9"), sse.body());
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void clientStreamingFromAJsonArrayOrNewlineDelimitedJson(Protocol protocol) throws Exception {
    String array = "[{\"userId\":\"u-1\",\"items\":[{\"sku\":\"a\",\"quantity\":1}]},"
        + "{\"userId\":\"u-2\",\"items\":[{\"sku\":\"b\",\"quantity\":2}]}]";
    HttpResponse<String> fromArray = send(protocol, "POST", "/v1/orders:import", array);
    assertEquals(200, fromArray.statusCode(), fromArray.body());
    assertEquals(2, json(fromArray).get("imported").getAsInt());
    HttpResponse<String> fromLines = send(protocol, request(protocol, "/v1/echo:collect")
        .header("content-type", "application/x-ndjson")
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"payload\":\"AAA=\"}\n{\"payload\":\"AAAA\"}\n\n{\"message\":\"last\"}\n")));
    assertEquals(200, fromLines.statusCode(), fromLines.body());
    assertEquals("3", json(fromLines).get("receivedCount").getAsString());
    assertEquals("5", json(fromLines).get("receivedBytes").getAsString());
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void bidirectionalStreamingIsNotImplementedOverRest(Protocol protocol) throws Exception {
    HttpResponse<String> response = send(protocol, "POST", "/v1/echo:chat", "{}");
    assertEquals(501, response.statusCode());
    assertEquals(12, json(response).get("code").getAsInt());
    assertTrue(json(response).get("message").getAsString().contains("bidirectional"),
        response.body());
  }

  // ---- Files, names with slashes, response_body, custom methods --------------------------------

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void uploadAndDownloadRawBytesWithTheirContentType(Protocol protocol) throws Exception {
    byte[] png = new byte[300_000];
    new Random(1).nextBytes(png);
    String name = "/v1/folders/f1/docs/" + protocol + "/images/logo%20big.png";
    HttpResponse<String> put = send(protocol, request(protocol, name
        + "?visibility=PUBLIC&labels=team%3Dweb&labels=size%3Dlarge&retention=3600s")
        .header("content-type", "image/png")
        .PUT(HttpRequest.BodyPublishers.ofByteArray(png)));
    assertEquals(200, put.statusCode(), put.body());
    JsonObject document = json(put);
    assertEquals("folders/f1/docs/" + protocol + "/images/logo big.png",
        document.get("name").getAsString(), "** keeps slashes, decodes the rest");
    assertEquals("image/png", document.get("contentType").getAsString());
    assertEquals("300000", document.get("sizeBytes").getAsString());
    assertEquals("PUBLIC", document.get("visibility").getAsString());
    assertEquals("3600s", document.get("retention").getAsString());
    JsonObject checksum = document.getAsJsonArray("annotations").get(0).getAsJsonObject();
    assertEquals("type.googleapis.com/meshgate.samples.docs.v1.Checksum",
        checksum.get("@type").getAsString(), "Any resolved through the descriptors");
    assertEquals("sha256", checksum.get("algorithm").getAsString());

    HttpResponse<byte[]> content = CLIENTS.get(protocol).send(
        request(protocol, name + ":content").GET().build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, content.statusCode());
    assertEquals("image/png", content.headers().firstValue("content-type").orElse(""));
    assertArrayEquals(png, content.body());

    HttpResponse<byte[]> streamed = CLIENTS.get(protocol).send(
        request(protocol, name + ":stream?chunkSize=7000").GET().build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, streamed.statusCode());
    assertEquals("image/png", streamed.headers().firstValue("content-type").orElse(""));
    assertArrayEquals(png, streamed.body(), "a stream of HttpBody is the file, in order");

    HttpResponse<String> labels = get(protocol, name + ":labels");
    assertEquals(JsonParser.parseString("{\"team\":\"web\",\"size\":\"large\"}"),
        JsonParser.parseString(labels.body()), "response_body prints only that field");

    HttpResponse<String> byId = get(protocol, "/v1/documents/" + document.get("id")
        .getAsString());
    assertEquals(document.get("name"), json(byId).get("name"), "additional binding");

    HttpResponse<String> copy = send(protocol, "COPY", name,
        "{\"destination\":\"folders/f2/docs/" + protocol + "-copy.png\"}");
    assertEquals(200, copy.statusCode(), copy.body());
    assertEquals("300000", json(copy).get("sizeBytes").getAsString(), "custom method COPY");

    HttpResponse<String> deleted = send(protocol, request(protocol,
        "/v1/folders/f2/docs/" + protocol + "-copy.png").DELETE());
    assertEquals(200, deleted.statusCode());
    assertEquals("{}", deleted.body(), "google.protobuf.Empty");
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void queryParametersOfEveryKind(Protocol protocol) throws Exception {
    String folder = "q" + protocol.ordinal();
    List<String> ids = new ArrayList<>();
    String[][] files = {{"a.txt", "PRIVATE", "k=1"}, {"b.txt", "SHARED", "k=2"},
        {"c.txt", "PUBLIC", "k=2"}};
    for (String[] file : files) {
      HttpResponse<String> put = send(protocol, request(protocol, "/v1/folders/" + folder
          + "/docs/" + file[0] + "?visibility=" + file[1] + "&labels=" + file[2])
          .header("content-type", "text/plain")
          .PUT(HttpRequest.BodyPublishers.ofString("x".repeat(file[0].charAt(0) - 'a' + 1))));
      assertEquals(200, put.statusCode(), put.body());
      ids.add(json(put).get("id").getAsString());
    }
    String search = "/v1/documents:search?query=folders/" + folder
        + "&filter.visibility=SHARED&filter.visibility=3" // repeated enum, by name or number
        + "&filter.createdAfter=2020-01-01T00:00:00Z"        // Timestamp
        + "&filter.minSizeBytes=2"                           // Int64Value wrapper
        + "&labels=k%3D2&hasLabels=true&newestFirst=false&maxAge=3600s&maxSizeBytes=100"
        + "&readMask=name,sizeBytes&page_size=1";            // FieldMask, original name
    HttpResponse<String> first = get(protocol, search);
    assertEquals(200, first.statusCode(), first.body());
    JsonObject page = json(first);
    assertEquals(2, page.get("totalSize").getAsInt());
    JsonArray documents = page.getAsJsonArray("documents");
    assertEquals(1, documents.size());
    assertEquals(2, documents.get(0).getAsJsonObject().size(), "read mask: " + documents);
    assertEquals("folders/" + folder + "/docs/b.txt",
        documents.get(0).getAsJsonObject().get("name").getAsString());
    String token = page.get("nextPageToken").getAsString();
    // bytes in a query: base64url, unpadded, as a URL would carry them
    String urlToken = token.replace('+', '-').replace('/', '_').replace("=", "");
    HttpResponse<String> second = get(protocol, search + "&pageToken=" + urlToken);
    assertEquals(200, second.statusCode(), second.body());
    assertEquals("folders/" + folder + "/docs/c.txt", json(second).getAsJsonArray("documents")
        .get(0).getAsJsonObject().get("name").getAsString());
    assertFalse(json(second).has("nextPageToken"));

    HttpResponse<String> posted = send(protocol, "POST", "/v1/documents:search",
        "{\"query\":\"folders/" + folder + "\",\"filter\":{\"visibility\":[\"PRIVATE\"]}}");
    assertEquals(1, json(posted).get("totalSize").getAsInt(), "the POST binding takes a body");
  }

  // ---- Headers -------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void headersGoToMetadataAndMetadataComesBack(Protocol protocol) throws Exception {
    HttpResponse<String> response = send(protocol, request(protocol, "/v1/echo")
        .header("authorization", "Bearer abc")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .header("x-request-id", "req-7")
        .header("x-forwarded-for", "203.0.113.9")
        .header("cookie", "secret=1")
        .header("grpc-metadata-x-echo-color", "blue")
        .header("grpc-metadata-x-echo-headers",
            "authorization,traceparent,x-request-id,x-forwarded-for,cookie")
        .POST(HttpRequest.BodyPublishers.ofString("{}")));
    assertEquals(200, response.statusCode(), response.body());
    var headers = response.headers();
    assertEquals("Bearer abc", headers.firstValue("grpc-metadata-x-echo-header-authorization")
        .orElse(null));
    assertEquals("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        headers.firstValue("grpc-metadata-x-echo-header-traceparent").orElse(null));
    assertEquals("req-7", headers.firstValue("grpc-metadata-x-echo-header-x-request-id")
        .orElse(null), "a configured forward header");
    assertEquals("203.0.113.9, 127.0.0.1",
        headers.firstValue("grpc-metadata-x-echo-header-x-forwarded-for").orElse(null),
        "the client's address is appended");
    assertTrue(headers.firstValue("grpc-metadata-x-echo-header-cookie").isEmpty(),
        "other headers stay at the gateway");
    assertEquals("blue", headers.firstValue("grpc-metadata-x-echo-color").orElse(null),
        "Grpc-Metadata-* request headers become metadata; response headers come back");
    assertEquals("blue", headers.firstValue("grpc-metadata-x-trailer-color").orElse(null),
        "trailers come back too");
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void theRouteTimeoutAndGrpcTimeoutReachTheBackend(Protocol protocol) throws Exception {
    HttpResponse<String> routeTimeout = send(protocol, "POST", "/v1/echo", "{}");
    long millis = Long.parseLong(routeTimeout.headers()
        .firstValue("grpc-metadata-x-echo-deadline-millis").orElse("-1"));
    assertTrue(millis > 5_000 && millis <= 10_000, "the route's 10s: " + millis);
    HttpResponse<String> clientTimeout = send(protocol, request(protocol, "/v1/echo")
        .header("grpc-timeout", "2S").POST(HttpRequest.BodyPublishers.ofString("{}")));
    millis = Long.parseLong(clientTimeout.headers()
        .firstValue("grpc-metadata-x-echo-deadline-millis").orElse("-1"));
    assertTrue(millis > 0 && millis <= 2_000, "the client's grpc-timeout: " + millis);
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void largeMessagesBothWays(Protocol protocol) throws Exception {
    String text = "x".repeat(200_000);
    HttpResponse<String> response = send(protocol, "POST", "/v1/echo",
        "{\"message\":\"" + text + "\",\"responseSize\":500000}");
    assertEquals(200, response.statusCode());
    JsonObject echo = json(response);
    assertEquals(text, echo.get("message").getAsString());
    assertEquals(java.util.Base64.getEncoder().encodeToString(new byte[500_000]),
        echo.get("payload").getAsString());
    assertTrue(response.body().getBytes(StandardCharsets.UTF_8).length > 800_000);
  }
}
