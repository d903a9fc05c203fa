package io.meshgate.gateway.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.rpc.RetryInfo;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rate limits end to end for gRPC and REST callers. Limits refill at one call an hour so that
 * the test decides exactly which calls pass; each test keys its calls on addresses or API keys
 * of its own, so tests do not share buckets.
 */
@Timeout(60)
class RateLimitIntegrationTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final AtomicInteger CLIENTS = new AtomicInteger();

  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;
  private static ManagedChannel channel;
  private static String config;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    config = """
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0}
        transcoding: {descriptors: [%s]}
        clusters:
          - {name: echo, endpoints: [127.0.0.1:%d]}
        routes:
          - name: expand
            match: {service: meshgate.samples.echo.v1.EchoService, method: Expand}
            cluster: echo
            rateLimits:
              - {name: per-client, key: clientIp, trustedHops: 1, rate: 1/h, burst: 3}
          - name: echo
            match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
            rateLimits:
              - {name: per-api-key, key: "header:x-api-key", rate: 1/h, burst: 2}
        """.formatted(SampleFleet.descriptorSet(dir),
        fleet.server(SampleServer.Kind.ECHO).port());
    gateway = TestGateway.start(config);
    channel = gateway.channel();
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

  /** An address no other test uses, as a trusted proxy would report it. */
  private static String newClient() {
    return "198.51.100." + CLIENTS.incrementAndGet();
  }

  private static EchoServiceGrpc.EchoServiceBlockingStub stub(Map<String, String> headers) {
    Metadata extra = new Metadata();
    headers.forEach((k, v) -> extra.put(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER), v));
    return EchoServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(extra));
  }

  private static int expand(String client) {
    Iterator<EchoResponse> responses = stub(Map.of("x-forwarded-for", client))
        .expand(EchoRequest.newBuilder().setMessage("m").setResponseCount(5).build());
    int n = 0;
    while (responses.hasNext()) {
      responses.next();
      n++;
    }
    return n;
  }

  @Test
  void aStreamCountsOnceAndTheCallPastTheBurstIsRefusedWithRetryInfo() throws Exception {
    String client = newClient();
    for (int i = 0; i < 3; i++) {
      assertEquals(5, expand(client), "a stream of 5 messages takes one token");
    }
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
        () -> expand(client));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
    assertTrue(refused.getStatus().getDescription().startsWith(
        "rate limit 'per-client' of route 'expand' exceeded (1/h, burst 3, per client"
            + " address); retry in "), refused.getStatus().getDescription());
    com.google.rpc.Status details = StatusProto.fromThrowable(refused);
    RetryInfo retry = details.getDetails(0).unpack(RetryInfo.class);
    long seconds = retry.getRetryDelay().getSeconds();
    assertTrue(seconds > 3500 && seconds <= 3600, "one call an hour: the next token in about an"
        + " hour, got " + seconds + " s");
    assertEquals(5, expand(newClient()), "another client has a bucket of its own");
  }

  @Test
  void restCallsGet429WithRetryAfterAndRateLimitHeaders() throws Exception {
    String client = newClient();
    for (int remaining = 2; remaining >= 0; remaining--) {
      HttpResponse<String> ok = get(client);
      assertEquals(200, ok.statusCode(), ok.body());
      assertEquals("3", ok.headers().firstValue("ratelimit-limit").orElse(null));
      assertEquals(String.valueOf(remaining),
          ok.headers().firstValue("ratelimit-remaining").orElse(null));
      assertTrue(Long.parseLong(ok.headers().firstValue("ratelimit-reset").orElse("0")) > 0);
    }
    HttpResponse<String> refused = get(client);
    assertEquals(429, refused.statusCode());
    long retryAfter = Long.parseLong(refused.headers().firstValue("retry-after").orElse("0"));
    assertTrue(retryAfter > 3500 && retryAfter <= 3600, "Retry-After: " + retryAfter);
    assertEquals("0", refused.headers().firstValue("ratelimit-remaining").orElse(null));
    JsonObject body = JsonParser.parseString(refused.body()).getAsJsonObject();
    assertEquals(8, body.get("code").getAsInt());
    assertEquals("type.googleapis.com/google.rpc.RetryInfo", body.getAsJsonArray("details")
        .get(0).getAsJsonObject().get("@type").getAsString());
  }

  private static HttpResponse<String> get(String client) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + gateway.address()
        + "/v1/echo:expand?message=hi&responseCount=2")).header("x-forwarded-for", client)
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aReloadKeepsTheBucketsOfUnchangedRulesAndResetsChangedOnes() throws Exception {
    EchoRequest request = EchoRequest.newBuilder().setMessage("r").build();
    String tenant = "tenant-reload-" + CLIENTS.incrementAndGet();
    stub(Map.of("x-api-key", tenant)).echo(request);
    stub(Map.of("x-api-key", tenant)).echo(request);
    assertThrows(StatusRuntimeException.class,
        () -> stub(Map.of("x-api-key", tenant)).echo(request), "the bucket is empty");

    // A change elsewhere (the expand route's burst): the echo rule is untouched.
    gateway.gateway().apply(io.meshgate.gateway.config.ConfigLoader.parse("test.yaml",
        config.replace("burst: 3}", "burst: 4}"), TestGateway.resources()));
    StatusRuntimeException still = assertThrows(StatusRuntimeException.class,
        () -> stub(Map.of("x-api-key", tenant)).echo(request));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, still.getStatus().getCode(),
        "an unchanged rule keeps its buckets across a reload");

    // The echo rule itself changes (a burst of 5): it starts with full buckets.
    gateway.gateway().apply(io.meshgate.gateway.config.ConfigLoader.parse("test.yaml",
        config.replace("burst: 2}", "burst: 5}"), TestGateway.resources()));
    for (int i = 0; i < 5; i++) {
      stub(Map.of("x-api-key", tenant)).echo(request);
    }
    assertThrows(StatusRuntimeException.class,
        () -> stub(Map.of("x-api-key", tenant)).echo(request));
    gateway.gateway().apply(io.meshgate.gateway.config.ConfigLoader.parse("test.yaml", config,
        TestGateway.resources()));
  }

  @Test
  void headerKeyedLimitsAreIndependentAndSkipCallsWithoutTheHeader() throws Exception {
    Metrics before = Metrics.scrape(gateway.gateway().adminPort());
    EchoRequest request = EchoRequest.newBuilder().setMessage("k").build();
    stub(Map.of("x-api-key", "tenant-a")).echo(request);
    stub(Map.of("x-api-key", "tenant-a")).echo(request);
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
        () -> stub(Map.of("x-api-key", "tenant-a")).echo(request));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
    stub(Map.of("x-api-key", "tenant-b")).echo(request);
    for (int i = 0; i < 5; i++) {
      stub(Map.of()).echo(request);
    }
    Metrics after = Metrics.scrape(gateway.gateway().adminPort());
    assertEquals(1, after.sum("meshgate_ratelimit_rejections_total", "route", "echo", "rule",
        "per-api-key") - before.sum("meshgate_ratelimit_rejections_total", "route", "echo",
        "rule", "per-api-key"));
    assertEquals(1, after.sum("meshgate_requests_total", "route", "echo", "code",
        "RESOURCE_EXHAUSTED") - before.sum("meshgate_requests_total", "route", "echo", "code",
        "RESOURCE_EXHAUSTED"));
  }
}
