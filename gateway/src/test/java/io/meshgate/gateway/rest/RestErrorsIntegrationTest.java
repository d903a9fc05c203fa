package io.meshgate.gateway.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshgate.gateway.testing.HttpClients;
import io.meshgate.gateway.testing.HttpClients.Protocol;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.testing.FreePorts;
import io.meshgate.samples.SampleServer;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What REST clients get when something is wrong — their request, the route, the backend, the
 * cluster: the right HTTP status, a {@code google.rpc.Status} JSON body whose message says what
 * to fix, and the backend's error details. Over HTTP/1.1 and HTTP/2.
 */
class RestErrorsIntegrationTest {
  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;
  private static final Map<Protocol, HttpClient> CLIENTS = new EnumMap<>(Protocol.class);

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    int deadPort = FreePorts.next();
    gateway = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          workerThreads: 2
          tls: {certFile: tls/server.pem, keyFile: tls/server.key, allowPlaintext: true}
        admin: {host: 127.0.0.1, port: 0}
        limits: {maxRequestBodyBytes: 64KiB}
        clusters:
          - {name: users, endpoints: [127.0.0.1:%d]}
          - {name: echo, endpoints: [127.0.0.1:%d]}
          - {name: nowhere, endpoints: [127.0.0.1:%d], connectTimeout: 2s}
        routes:
          - {match: {service: meshgate.samples.users.v1.UserDirectory}, cluster: users}
          - {match: {service: meshgate.samples.echo.v1.EchoService}, cluster: echo}
          - {match: {service: meshgate.samples.orders.v1.OrderService}, cluster: nowhere}
        transcoding:
          descriptors: [%s]
          cors:
            allowOrigins: ["https://app.example.com", "https://*.example.org"]
            exposeHeaders: [grpc-metadata-x-echo-color]
            maxAge: 5m
        """.formatted(fleet.server(SampleServer.Kind.USERS).port(),
        fleet.server(SampleServer.Kind.ECHO).port(), deadPort,
        SampleFleet.descriptorSet(dir)));
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

  private static HttpRequest.Builder request(Protocol protocol, String pathAndQuery) {
    return HttpRequest.newBuilder(protocol.uri(gateway.port(), pathAndQuery));
  }

  private static HttpResponse<String> send(Protocol protocol, HttpRequest.Builder request)
      throws Exception {
    return CLIENTS.get(protocol).send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(Protocol protocol, String path, String json)
      throws Exception {
    return send(protocol, request(protocol, path).header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)));
  }

  /** Asserts the HTTP status and the JSON status; returns the JSON. */
  private static JsonObject assertStatus(HttpResponse<String> response, int http, int grpc) {
    assertEquals(http, response.statusCode(), response.body());
    assertEquals("application/json", response.headers().firstValue("content-type").orElse(""));
    JsonObject status = JsonParser.parseString(response.body()).getAsJsonObject();
    assertEquals(grpc, status.get("code").getAsInt(), response.body());
    assertTrue(status.has("message") && status.has("details"), response.body());
    return status;
  }

  private static String message(JsonObject status) {
    return status.get("message").getAsString();
  }

  // ---- The request is wrong --------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void unknownPathIs404AndWrongMethodIs405WithAllow(Protocol protocol) throws Exception {
    JsonObject missing = assertStatus(send(protocol, request(protocol, "/v1/nothing/here")),
        404, 5);
    assertEquals("no REST route for GET /v1/nothing/here", message(missing));
    HttpResponse<String> wrongMethod = send(protocol, request(protocol, "/v1/users/u-1")
        .DELETE());
    assertStatus(wrongMethod, 405, 12);
    assertEquals("GET, PATCH", wrongMethod.headers().firstValue("allow").orElse(""));
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void badBodiesAre400NamingTheField(Protocol protocol) throws Exception {
    assertTrue(message(assertStatus(post(protocol, "/v1/echo", "{\"message\":"), 400, 3))
        .startsWith("invalid JSON body: "));
    assertEquals("field 'responseCount': \"lots\" is not an int32", message(assertStatus(
        post(protocol, "/v1/echo", "{\"responseCount\":\"lots\"}"), 400, 3)));
    assertEquals("field 'response_count': 3000000000 is out of range for an int32",
        message(assertStatus(post(protocol, "/v1/echo", "{\"response_count\":3000000000}"),
            400, 3)));
    assertTrue(message(assertStatus(post(protocol, "/v1/echo", "{\"colour\":1}"), 400, 3))
        .startsWith("field 'colour': unknown field (meshgate.samples.echo.v1.EchoRequest has no"
            + " field 'colour'; its fields are message, payload"));
    assertEquals("field 'payload': \"not base64!\" is not base64 or base64url bytes",
        message(assertStatus(post(protocol, "/v1/echo", "{\"payload\":\"not base64!\"}"),
            400, 3)));
    assertEquals("invalid JSON body: unexpected data after the JSON value (at line 1 column 5"
        + " path $)", message(assertStatus(post(protocol, "/v1/echo", "{} {}"), 400, 3)));
    byte[] notUtf8 = {'{', '"', 'm', 'e', 's', 's', 'a', 'g', 'e', '"', ':', '"', (byte) 0xff,
        (byte) 0xfe, '"', '}'};
    assertEquals("field 'message': the request body is not valid UTF-8 (byte 12 is not part of"
        + " a UTF-8 character; JSON text must be UTF-8)", message(assertStatus(send(protocol,
            request(protocol, "/v1/echo").header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(notUtf8))), 400, 3)));
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void badQueriesAndHeadersAre400(Protocol protocol) throws Exception {
    assertTrue(message(assertStatus(send(protocol, request(protocol,
        "/v1/users?limit=2&colour=red")), 400, 3)).startsWith("unknown query parameter 'colour'"));
    assertEquals("query parameter 'limit': 'ten' is not an int32 in range", message(assertStatus(
        send(protocol, request(protocol, "/v1/users?limit=ten")), 400, 3)));
    assertTrue(message(assertStatus(send(protocol, request(protocol, "/v1/users/u-1")
        .header("grpc-timeout", "soon")), 400, 3)).startsWith("grpc-timeout 'soon' is malformed"));
    assertTrue(message(assertStatus(send(protocol, request(protocol, "/v1/users/u-1")
        .header("grpc-metadata-x-key-bin", "%%%")), 400, 3))
        .contains("header 'grpc-metadata-x-key-bin' cannot be gRPC metadata"));
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void bodiesOverTheLimitAre413(Protocol protocol) throws Exception {
    String big = "{\"message\":\"" + "x".repeat(100_000) + "\"}";
    JsonObject status = assertStatus(post(protocol, "/v1/echo", big), 413, 8);
    assertTrue(message(status).contains("limits.maxRequestBodyBytes: 65536"), message(status));
    // The gateway keeps serving the client.
    assertEquals(200, post(protocol, "/v1/echo", "{\"message\":\"small\"}").statusCode());
  }

  // ---- The backend or the cluster says no ------------------------------------------------------

  @ParameterizedTest
  @CsvSource({"1,499", "2,500", "3,400", "4,504", "5,404", "6,409", "7,403", "8,429", "9,400",
      "10,409", "11,400", "12,501", "13,500", "14,503", "15,500", "16,401"})
  void backendStatusesMapToHttpStatusesWithTheirDetails(int code, int http) throws Exception {
    for (Protocol protocol : Protocol.values()) {
      HttpResponse<String> response = post(protocol, "/v1/echo",
          "{\"failCode\":" + code + ",\"failMessage\":\"because " + code + "\"}");
      JsonObject status = assertStatus(response, http, code);
      assertEquals("because " + code, message(status));
      JsonObject info = status.getAsJsonArray("details").get(0).getAsJsonObject();
      assertEquals("type.googleapis.com/google.rpc.ErrorInfo", info.get("@type").getAsString());
      assertEquals("ECHO_FAILURE", info.get("reason").getAsString());
      if (code == 8) {
        assertEquals("1", response.headers().firstValue("retry-after").orElse(""),
            "from the RetryInfo detail");
      }
      if (code == 16) {
        assertEquals("Bearer", response.headers().firstValue("www-authenticate").orElse(""));
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void aDeadlineThatPassesIs504(Protocol protocol) throws Exception {
    HttpResponse<String> response = send(protocol, request(protocol, "/v1/echo")
        .header("grpc-timeout", "300m").POST(HttpRequest.BodyPublishers.ofString(
            "{\"hang\":true}")));
    assertStatus(response, 504, 4);
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void aClusterWithNoReachableEndpointIs503NamingIt(Protocol protocol) throws Exception {
    JsonObject status = assertStatus(send(protocol, request(protocol, "/v1/orders/o-1")), 503,
        14);
    assertTrue(message(status).startsWith("no endpoint of cluster 'nowhere'"), message(status));
  }

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void aRestRuleWhoseServiceNoRouteTakesIs404(Protocol protocol) throws Exception {
    JsonObject status = assertStatus(send(protocol, request(protocol,
        "/v1/documents/d1")), 404, 5);
    assertEquals("GET /v1/documents/d1 maps to meshgate.samples.docs.v1.DocumentStore."
        + "GetDocument, but no gateway route sends meshgate.samples.docs.v1.DocumentStore to a"
        + " cluster", message(status));
  }

  // ---- CORS ------------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Protocol.class)
  void corsPreflightAndResponses(Protocol protocol) throws Exception {
    HttpResponse<String> preflight = send(protocol, request(protocol, "/v1/echo")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
    assertEquals(204, preflight.statusCode(), preflight.body());
    var headers = preflight.headers();
    assertEquals("https://app.example.com",
        headers.firstValue("access-control-allow-origin").orElse(""));
    assertEquals("POST", headers.firstValue("access-control-allow-methods").orElse(""));
    assertEquals("authorization, content-type",
        headers.firstValue("access-control-allow-headers").orElse(""));
    assertEquals("300", headers.firstValue("access-control-max-age").orElse(""));

    HttpResponse<String> subdomain = send(protocol, request(protocol, "/v1/users/u-1")
        .header("origin", "https://shop.example.org")
        .header("access-control-request-method", "GET")
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
    assertEquals(204, subdomain.statusCode(), "wildcard subdomain");

    assertStatus(send(protocol, request(protocol, "/v1/echo")
        .header("origin", "https://evil.example.net")
        .header("access-control-request-method", "POST")
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())), 403, 7);

    HttpResponse<String> actual = send(protocol, request(protocol, "/v1/echo")
        .header("origin", "https://app.example.com")
        .header("grpc-metadata-x-echo-color", "red")
        .POST(HttpRequest.BodyPublishers.ofString("{}")));
    assertEquals(200, actual.statusCode());
    assertEquals("https://app.example.com",
        actual.headers().firstValue("access-control-allow-origin").orElse(""));
    assertEquals("grpc-metadata-x-echo-color",
        actual.headers().firstValue("access-control-expose-headers").orElse(""));
    HttpResponse<String> other = send(protocol, request(protocol, "/v1/users/u-1")
        .header("origin", "https://evil.example.net"));
    assertEquals(200, other.statusCode());
    assertTrue(other.headers().firstValue("access-control-allow-origin").isEmpty(),
        "no CORS headers for an origin that is not allowed");
  }
}
