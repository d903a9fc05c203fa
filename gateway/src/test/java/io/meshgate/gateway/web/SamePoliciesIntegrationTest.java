package io.meshgate.gateway.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jwt.JWTClaimsSet;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.Jwts;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one admission chain under the browser protocols: a route that requires a JWT refuses
 * gRPC-Web, Connect and WebSocket clients without one, each in its own terms, and admits them
 * with one; every call is counted under its protocol and written to the access log with it.
 */
class SamePoliciesIntegrationTest {
  private static final String SECRET = "partners share this secret; it is long enough for HS256";
  private static final String ECHO = "/meshgate.samples.echo.v1.EchoService/Echo";

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static Server backend;
  private static TestGateway gateway;
  private static final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("policies", scheduler)).build().start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        accessLog: {path: "%s"}
        auth:
          providers:
            - {name: partners, issuer: partners, secret: "%s"}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - name: guarded
            match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
            auth: {providers: [partners]}
        """.formatted(SampleFleet.descriptorSet(dir), dir.resolve("access.log"), SECRET,
        backend.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  private static String token() {
    return Jwts.hmac(JWSAlgorithm.HS256, SECRET.getBytes(StandardCharsets.UTF_8),
        new JWSHeader(JWSAlgorithm.HS256), new JWTClaimsSet.Builder().issuer("partners")
            .subject("partner-7").expirationTime(Date.from(Instant.now().plusSeconds(600)))
            .build());
  }

  private static HttpResponse<byte[]> post(String contentType, byte[] body, String... headers)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + ECHO))
        .timeout(Duration.ofSeconds(10)).header("content-type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static byte[] frame(byte[] message) {
    byte[] out = new byte[5 + message.length];
    out[4] = (byte) message.length;
    System.arraycopy(message, 0, out, 5, message.length);
    return out;
  }

  @Test
  void everyProtocolIsAdmittedByTheSameChain() throws Exception {
    byte[] message = EchoRequest.newBuilder().setMessage("m").build().toByteArray();
    HttpResponse<byte[]> grpcWeb = post("application/grpc-web", frame(message));
    assertEquals("16", grpcWeb.headers().firstValue("grpc-status").orElse(""));
    assertTrue(grpcWeb.headers().firstValue("www-authenticate").isPresent());
    assertEquals("0", post("application/grpc-web", frame(message), "authorization",
        "Bearer " + token()).headers().firstValue("grpc-status").orElse("0"));

    HttpResponse<byte[]> connect = post("application/proto", message,
        "connect-protocol-version", "1");
    assertEquals(401, connect.statusCode());
    assertTrue(new String(connect.body(), StandardCharsets.UTF_8).contains("unauthenticated"));
    assertEquals(200, post("application/proto", message, "connect-protocol-version", "1",
        "authorization", "Bearer " + token()).statusCode());

    ExecutionException refused = assertThrows(ExecutionException.class, () -> http
        .newWebSocketBuilder().buildAsync(URI.create("ws://" + gateway.address()
            + "/v1/echo:expand?message=w"), new WebSocket.Listener() {}).get(10, TimeUnit.SECONDS));
    assertEquals(401, ((WebSocketHandshakeException) refused.getCause()).getResponse()
        .statusCode());
    CompletableFuture<Integer> closed = new CompletableFuture<>();
    http.newWebSocketBuilder().header("authorization", "Bearer " + token())
        .buildAsync(URI.create("ws://" + gateway.address() + "/v1/echo:expand?message=w"),
            new WebSocket.Listener() {
              @Override
              public CompletionStage<?> onClose(WebSocket socket, int code, String reason) {
                closed.complete(code);
                return null;
              }
            }).get(10, TimeUnit.SECONDS);
    assertEquals(1000, closed.get(10, TimeUnit.SECONDS));

    Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
    for (String protocol : List.of("grpc-web", "connect", "websocket")) {
      for (String code : List.of("UNAUTHENTICATED", "OK")) {
        assertEquals(1, metrics.sum("meshgate_requests_total", "protocol", protocol, "route",
            "guarded", "code", code), protocol + " " + code + " in\n" + metrics.text());
      }
    }
    Await.until("every call in the access log under its protocol", Duration.ofSeconds(10),
        () -> {
          String log;
          try {
            log = Files.exists(dir.resolve("access.log"))
                ? Files.readString(dir.resolve("access.log")) : "";
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          return List.of("grpc-web", "connect", "websocket").stream().allMatch(p ->
              log.contains("\"protocol\":\"" + p + "\"") && log.contains("partner-7"));
        });
  }
}
