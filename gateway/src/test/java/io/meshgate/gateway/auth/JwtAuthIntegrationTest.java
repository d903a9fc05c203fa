package io.meshgate.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jwt.JWTClaimsSet;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.JwksServer;
import io.meshgate.gateway.testing.Jwts.Key;
import io.meshgate.gateway.testing.Jwts;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.Observers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * JWT authentication end to end: an identity provider serving its keys over HTTPS, a gateway
 * with a public route, authenticated routes and a route that needs a scope and a claim, the echo
 * sample as the backend (it shows what metadata reached it), gRPC and REST callers.
 */
@Timeout(60)
class JwtAuthIntegrationTest {
  private static final String ISSUER = "https://id.example.test";
  private static final String SECRET = "partners share this secret; it is long enough for HS256";
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static JwksServer idp;
  private static TestGateway gateway;
  private static ManagedChannel channel;
  private static Key signing;
  private static Key rotated;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    signing = Jwts.rsa("k1", JWSAlgorithm.RS256);
    rotated = Jwts.ec("k2", JWSAlgorithm.ES256, Curve.P_256);
    idp = JwksServer.start(TestGateway.resources().resolve("tls"), Jwts.jwks(signing));
    int echo = fleet.server(SampleServer.Kind.ECHO).port();
    gateway = TestGateway.start("""
        transcoding: {descriptors: [%s]}
        auth:
          providers:
            - name: corp
              issuer: %s
              audiences: [meshgate]
              jwks: {url: "%s", caFile: tls/ca.pem, refreshInterval: 1h, minRefreshInterval: 0s}
              forwardClaims: {sub: x-user-id, email: x-user-email}
            - name: partners
              issuer: partners
              secret: "%s"
              from: [{header: x-api-token}, {query: access_token}, {cookie: partner_token}]
              forwardClaims: {sub: x-partner-id}
        clusters:
          - {name: echo, endpoints: [127.0.0.1:%d]}
        routes:
          - name: echo-public
            match: {service: meshgate.samples.echo.v1.EchoService, method: Expand}
            cluster: echo
          - name: echo-scoped
            match: {service: meshgate.samples.echo.v1.EchoService, method: Collect}
            cluster: echo
            auth:
              providers: [corp]
              requireScopes: [echo.write]
              requireClaims: {tier: gold}
              forwardAuthorization: false
          - name: echo
            match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
            auth: {providers: [corp, partners]}
        """.formatted(SampleFleet.descriptorSet(dir), ISSUER, idp.uri(), SECRET, echo));
    channel = gateway.channel();
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (idp != null) {
      idp.close();
    }
    if (fleet != null) {
      fleet.close();
    }
  }

  // ---- Tokens --------------------------------------------------------------------------------

  private static JWTClaimsSet.Builder claims(String subject) {
    return new JWTClaimsSet.Builder(Jwts.claims(ISSUER, "meshgate", subject,
        Map.of("email", subject + "@example.test"), Instant.now()));
  }

  private static String token(String subject) {
    return Jwts.sign(signing, claims(subject).build());
  }

  private static String partnerToken(String subject) {
    return Jwts.hmac(JWSAlgorithm.HS256, SECRET.getBytes(StandardCharsets.UTF_8),
        new JWSHeader(JWSAlgorithm.HS256), new JWTClaimsSet.Builder().issuer("partners")
            .subject(subject).expirationTime(Date.from(Instant.now().plusSeconds(600))).build());
  }

  // ---- Calls ---------------------------------------------------------------------------------

  /** A gRPC Echo call with these headers; returns the response headers or throws. */
  private static Metadata grpcEcho(Map<String, String> headers) {
    Metadata extra = new Metadata();
    headers.forEach((k, v) -> extra.put(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER), v));
    AtomicReference<Metadata> responseHeaders = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    EchoServiceGrpc.EchoServiceBlockingStub stub = EchoServiceGrpc.newBlockingStub(
        ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(extra),
            MetadataUtils.newCaptureMetadataInterceptor(responseHeaders, trailers)));
    try {
      stub.withDeadlineAfter(10, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("hi").build());
    } catch (StatusRuntimeException e) {
      throw new GrpcFailure(e.getStatus(), e.getTrailers());
    }
    return responseHeaders.get();
  }

  /** A failed gRPC call's status and trailers. */
  private static final class GrpcFailure extends RuntimeException {
    final Status status;
    final Metadata trailers;

    GrpcFailure(Status status, Metadata trailers) {
      super(status.toString());
      this.status = status;
      this.trailers = trailers;
    }
  }

  private static String header(Metadata metadata, String name) {
    return metadata.get(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER));
  }

  private static HttpResponse<String> restEcho(String query, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://"
        + gateway.address() + "/v1/echo" + query))
        .POST(HttpRequest.BodyPublishers.ofString("{\"message\":\"hi\"}"))
        .header("content-type", "application/json");
    headers.forEach(request::header);
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static Map<String, String> bearer(String token) {
    return Map.of("authorization", "Bearer " + token);
  }

  private static Map<String, String> with(Map<String, String> a, String... kv) {
    Map<String, String> all = new HashMap<>(a);
    for (int i = 0; i < kv.length; i += 2) {
      all.put(kv[i], kv[i + 1]);
    }
    return all;
  }

  // ---- Tests ---------------------------------------------------------------------------------

  @Test
  void aCallWithoutATokenIsUnauthenticatedWithABearerChallenge() throws Exception {
    GrpcFailure failure = assertThrows(GrpcFailure.class, () -> grpcEcho(Map.of()));
    assertEquals(Status.Code.UNAUTHENTICATED, failure.status.getCode());
    assertEquals("route 'echo' requires a bearer token", failure.status.getDescription());
    assertEquals("Bearer realm=\"meshgate\"", header(failure.trailers, "www-authenticate"));

    HttpResponse<String> response = restEcho("", Map.of());
    assertEquals(401, response.statusCode());
    assertEquals("Bearer realm=\"meshgate\"",
        response.headers().firstValue("www-authenticate").orElse(null));
    assertTrue(response.body().contains("\"code\":16"), response.body());
  }

  @Test
  void aValidTokenReachesTheBackendWithItsClaimsForwarded() throws Exception {
    String token = token("alice");
    Metadata seen = grpcEcho(with(bearer(token),
        "x-echo-headers", "x-user-id,x-user-email,authorization",
        "x-user-id", "mallory"));
    assertEquals("alice", header(seen, "x-echo-header-x-user-id"),
        "the claim, not what the client sent");
    assertEquals("alice@example.test", header(seen, "x-echo-header-x-user-email"));
    assertEquals("Bearer " + token, header(seen, "x-echo-header-authorization"));

    HttpResponse<String> response = restEcho("", with(bearer(token),
        "grpc-metadata-x-echo-headers", "x-user-id", "grpc-metadata-x-user-id", "mallory"));
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("alice", response.headers()
        .firstValue("grpc-metadata-x-echo-header-x-user-id").orElse(null));
  }

  @Test
  void aClientCannotSetClaimHeadersOnAPublicRoute() {
    Metadata extra = new Metadata();
    extra.put(Metadata.Key.of("x-user-id", Metadata.ASCII_STRING_MARSHALLER), "mallory");
    extra.put(Metadata.Key.of("x-echo-headers", Metadata.ASCII_STRING_MARSHALLER),
        "x-user-id,x-partner-id");
    AtomicReference<Metadata> headers = new AtomicReference<>();
    Iterator<EchoResponse> responses = EchoServiceGrpc.newBlockingStub(ClientInterceptors
        .intercept(channel, MetadataUtils.newAttachHeadersInterceptor(extra),
            MetadataUtils.newCaptureMetadataInterceptor(headers, new AtomicReference<>())))
        .expand(EchoRequest.newBuilder().setMessage("public").setResponseCount(2).build());
    int count = 0;
    while (responses.hasNext()) {
      responses.next();
      count++;
    }
    assertEquals(2, count, "a public route needs no token");
    assertNull(header(headers.get(), "x-echo-header-x-user-id"),
        "the gateway strips headers that claims travel in");
  }

  static Stream<Arguments> hostileTokens() {
    Instant now = Instant.now();
    JWTClaimsSet good = Jwts.claims(ISSUER, "meshgate", "eve", Map.of(), now);
    byte[] publicKey = signing.pair().getPublic().getEncoded();
    return Stream.of(
        Arguments.of("alg none", Jwts.raw("{\"alg\":\"none\"}", good.toString(), new byte[0]),
            "unsigned tokens (alg: none) are not accepted"),
        Arguments.of("HS256 with the RSA public key as secret",
            Jwts.hmac(JWSAlgorithm.HS256, publicKey,
                new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("k1").build(), good),
            "algorithm HS256 is not accepted"),
        Arguments.of("expired", Jwts.sign(signing, new JWTClaimsSet.Builder(good)
            .expirationTime(Date.from(now.minusSeconds(600))).build()), "expired at"),
        Arguments.of("another audience", Jwts.sign(signing, new JWTClaimsSet.Builder(good)
            .audience("billing").build()), "not meant for this gateway"),
        Arguments.of("forged signature", Jwts.sign(Jwts.rsa("k1", JWSAlgorithm.RS256), good),
            "signature does not verify"),
        Arguments.of("garbage", "not-a-token", "not a JWT"),
        Arguments.of("oversized", Jwts.sign(signing, new JWTClaimsSet.Builder(good)
            .claim("pad", "x".repeat(9000)).build()), "more than this gateway accepts"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostileTokens")
  void hostileTokensAreRefusedOverGrpcAndRest(String what, String token, String message)
      throws Exception {
    Metrics before = Metrics.scrape(gateway.gateway().adminPort());
    GrpcFailure failure = assertThrows(GrpcFailure.class, () -> grpcEcho(bearer(token)));
    assertEquals(Status.Code.UNAUTHENTICATED, failure.status.getCode(), what);
    assertTrue(failure.status.getDescription().contains(message),
        what + ": " + failure.status.getDescription());
    assertTrue(header(failure.trailers, "www-authenticate").contains("error=\"invalid_token\""));

    HttpResponse<String> response = restEcho("", bearer(token));
    assertEquals(401, response.statusCode(), what);
    assertTrue(response.headers().firstValue("www-authenticate").orElse("")
        .startsWith("Bearer realm=\"meshgate\", error=\"invalid_token\", error_description="),
        what);
    assertTrue(response.body().contains(message), response.body());
    Metrics after = Metrics.scrape(gateway.gateway().adminPort());
    assertEquals(2, after.sum("meshgate_auth_failures_total", "route", "echo")
        - before.sum("meshgate_auth_failures_total", "route", "echo"), what);
  }

  @Test
  void scopesAndClaimsAreEnforcedAndTheTokenCanStayAtTheGateway() throws Exception {
    String noScope = Jwts.sign(signing, claims("bob").claim("tier", "gold").build());
    String silver = Jwts.sign(signing, claims("bob").claim("scope", "echo.read echo.write")
        .claim("tier", "silver").build());
    String gold = Jwts.sign(signing, claims("bob").claim("scope", "echo.read echo.write")
        .claim("tier", "gold").build());

    GrpcFailure denied = assertThrows(GrpcFailure.class, () -> collect(noScope));
    assertEquals(Status.Code.PERMISSION_DENIED, denied.status.getCode());
    assertEquals("route 'echo-scoped' requires scope 'echo.write', which the token does not"
        + " grant", denied.status.getDescription());
    assertEquals("Bearer realm=\"meshgate\", error=\"insufficient_scope\", scope=\"echo.write\"",
        header(denied.trailers, "www-authenticate"));
    denied = assertThrows(GrpcFailure.class, () -> collect(silver));
    assertEquals("route 'echo-scoped' requires claim 'tier' to be 'gold'",
        denied.status.getDescription());

    Metadata seen = collect(gold);
    assertEquals("bob", header(seen, "x-echo-header-x-user-id"));
    assertNull(header(seen, "x-echo-header-authorization"),
        "forwardAuthorization: false keeps the token at the gateway");

    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create("http://"
            + gateway.address() + "/v1/echo:collect"))
        .POST(HttpRequest.BodyPublishers.ofString("[{\"message\":\"a\"}]"))
        .header("authorization", "Bearer " + noScope).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(403, response.statusCode(), response.body());
    assertTrue(response.body().contains("requires scope 'echo.write'"));
  }

  private static Metadata collect(String token) throws Exception {
    Metadata extra = new Metadata();
    extra.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    extra.put(Metadata.Key.of("x-echo-headers", Metadata.ASCII_STRING_MARSHALLER),
        "x-user-id,authorization");
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    CompletableFuture<EchoResponse> result = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = EchoServiceGrpc.newStub(ClientInterceptors.intercept(
        channel, MetadataUtils.newAttachHeadersInterceptor(extra),
        MetadataUtils.newCaptureMetadataInterceptor(headers, trailers)))
        .collect(Observers.completing(result));
    requests.onNext(EchoRequest.newBuilder().setMessage("one").build());
    requests.onCompleted();
    try {
      result.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      StatusRuntimeException failure = (StatusRuntimeException) e.getCause();
      throw new GrpcFailure(failure.getStatus(), failure.getTrailers());
    }
    return headers.get();
  }

  @Test
  void tokensAreFoundInTheConfiguredHeaderQueryParameterOrCookie() throws Exception {
    String token = partnerToken("acme");
    Metadata seen = grpcEcho(Map.of("x-api-token", token, "x-echo-headers", "x-partner-id"));
    assertEquals("acme", header(seen, "x-echo-header-x-partner-id"));

    for (HttpResponse<String> response : List.of(
        restEcho("?access_token=" + token, Map.of("grpc-metadata-x-echo-headers",
            "x-partner-id")),
        restEcho("", Map.of("cookie", "theme=dark; partner_token=" + token,
            "grpc-metadata-x-echo-headers", "x-partner-id")))) {
      assertEquals(200, response.statusCode(), response.body());
      assertEquals("acme", response.headers()
          .firstValue("grpc-metadata-x-echo-header-x-partner-id").orElse(null));
      assertFalse(response.body().contains("access_token"));
    }
  }

  @Test
  void aRotatedKeyIsFetchedWhenATokenNamesIt() throws Exception {
    idp.serve(Jwts.jwks(signing, rotated));
    String token = Jwts.sign(rotated, claims("carol").build());
    Await.until("the gateway fetches the new key", WAIT, () -> {
      try {
        return "carol".equals(header(grpcEcho(with(bearer(token),
            "x-echo-headers", "x-user-id")), "x-echo-header-x-user-id"));
      } catch (GrpcFailure e) {
        assertTrue(e.status.getDescription().contains("key id 'k2'"), e.status.toString());
        return false;
      }
    });
    assertEquals(200, restEcho("", bearer(token)).statusCode());
  }

  @Test
  void anIdentityProviderOutageKeepsTheLastGoodKeys() throws Exception {
    String before = token("dave");
    grpcEcho(bearer(before));
    double failedBefore = Metrics.scrape(gateway.gateway().adminPort())
        .sum("meshgate_jwks_refreshes_total", "provider", "corp", "result", "failed");
    idp.fail(503);
    try {
      // A token naming an unknown key makes the gateway go to the provider, which is down.
      String unknown = Jwts.sign(Jwts.rsa("k9", JWSAlgorithm.RS256), claims("dave").build());
      assertThrows(GrpcFailure.class, () -> grpcEcho(bearer(unknown)));
      Await.until("the failed refresh is counted", WAIT, () -> {
        try {
          return Metrics.scrape(gateway.gateway().adminPort()).sum(
              "meshgate_jwks_refreshes_total", "provider", "corp", "result", "failed")
              > failedBefore;
        } catch (Exception e) {
          throw new AssertionError(e);
        }
      });
      String after = token("dave-again");
      assertEquals("dave-again", header(grpcEcho(with(bearer(after),
          "x-echo-headers", "x-user-id")), "x-echo-header-x-user-id"));
      assertEquals(200, restEcho("", bearer(after)).statusCode());
    } finally {
      idp.serve(Jwts.jwks(signing, rotated));
    }
  }
}
