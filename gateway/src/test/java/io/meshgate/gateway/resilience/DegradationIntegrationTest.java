package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ForwardingServerCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.UserDirectoryService;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routes' {@code cache} and {@code fallback} against real backends: hits that never reach the
 * backend, misses, TTLs, the size bound, the client's and the backend's {@code Cache-Control},
 * credentials kept out; fallbacks for a breaker opened by failures, a backend too slow for the
 * route's deadline, a failing status, stale answers while the backend is down, and the REST
 * form of each.
 */
@Timeout(60)
class DegradationIntegrationTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final AtomicInteger IDS = new AtomicInteger();

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static final Control control = new Control();
  private static Server backend;
  private static TestGateway gateway;
  private static ManagedChannel channel;

  /** Counts calls by method, fails them while down, sets the Cache-Control it is asked to. */
  static final class Control implements ServerInterceptor {
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    final AtomicBoolean down = new AtomicBoolean();
    static final Metadata.Key<String> ASK_CACHE_CONTROL =
        Metadata.Key.of("x-test-cache-control", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> CACHE_CONTROL =
        Metadata.Key.of("cache-control", Metadata.ASCII_STRING_MARSHALLER);

    int calls(String method) {
      return calls.computeIfAbsent(method, m -> new AtomicInteger()).get();
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
        Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      calls.computeIfAbsent(call.getMethodDescriptor().getBareMethodName(),
          m -> new AtomicInteger()).incrementAndGet();
      if (down.get()) {
        call.close(Status.UNAVAILABLE.withDescription("backend down (test)"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      String cacheControl = headers.get(ASK_CACHE_CONTROL);
      return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
        @Override
        public void sendHeaders(Metadata responseHeaders) {
          if (cacheControl != null) {
            responseHeaders.put(CACHE_CONTROL, cacheControl);
          }
          super.sendHeaders(responseHeaders);
        }
      }, headers);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new EchoServiceImpl("b", scheduler), control))
        .addService(ServerInterceptors.intercept(new UserDirectoryService(Clock.systemUTC()),
            control))
        .build().start();
    int port = backend.getPort();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        clusters:
          - {name: echo, endpoints: ["127.0.0.1:%d"]}
          - name: fragile
            endpoints: ["127.0.0.1:%d"]
            circuitBreaker: {minimumCalls: 3, windowSize: 3, failureRateThreshold: 50,
                             openDuration: 30s}
        routes:
          - name: users
            match: {service: meshgate.samples.users.v1.UserDirectory}
            cluster: echo
            cache: {ttl: 60s}
          - name: echo-fallback
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo,
                    authority: [fallback.test]}
            cluster: echo
            maxTimeout: 300ms
            fallback:
              on: [timeout, status]
              onCodes: [UNAVAILABLE, INTERNAL]
              response:
                message: {message: "from the fallback", sequence: 7}
                headers: {x-degraded: "yes"}
          - name: echo-breaker
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo,
                    authority: [breaker.test]}
            cluster: fragile
            fallback:
              on: [breaker]
              response: {status: UNAVAILABLE, description: "payments are paused; try later"}
          - name: echo-stale
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo,
                    authority: [stale.test]}
            cluster: echo
            cache: {ttl: 200ms}
            fallback: {staleIfError: 10m}
          - name: echo-small
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo,
                    authority: [small.test]}
            cluster: echo
            cache: {ttl: 60s, maxBytes: 4096, maxEntryBytes: 2048}
          - name: echo
            match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
            cache: {ttl: 60s}
        """.formatted(SampleFleet.descriptorSet(dir), port, port));
    channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    gateway.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  /** A stub whose calls go to {@code authority}, with headers, recording response headers. */
  private static EchoServiceGrpc.EchoServiceBlockingStub echo(String authority,
      AtomicReference<Metadata> responseHeaders, String... headers) {
    Metadata metadata = new Metadata();
    for (int i = 0; i < headers.length; i += 2) {
      metadata.put(Metadata.Key.of(headers[i], Metadata.ASCII_STRING_MARSHALLER), headers[i + 1]);
    }
    EchoServiceGrpc.EchoServiceBlockingStub stub = EchoServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(metadata),
            capture(responseHeaders))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    return authority == null ? stub : stub.withInterceptors(new ClientInterceptor() {
          @Override
          public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
              MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
            return next.newCall(method, options.withAuthority(authority));
          }
        });
  }

  private static ClientInterceptor capture(AtomicReference<Metadata> into) {
    return new ClientInterceptor() {
      @Override
      public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
          MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method,
            options)) {
          @Override
          public void start(Listener<RespT> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
                listener) {
              @Override
              public void onHeaders(Metadata responseHeaders) {
                into.set(responseHeaders);
                super.onHeaders(responseHeaders);
              }

              @Override
              public void onClose(Status status, Metadata trailers) {
                if (into.get() == null) {
                  into.set(trailers); // trailers-only: what there is
                }
                super.onClose(status, trailers);
              }
            }, headers);
          }
        };
      }
    };
  }

  private static String header(AtomicReference<Metadata> headers, String name) {
    Metadata metadata = headers.get();
    return metadata == null ? null
        : metadata.get(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER));
  }

  private static EchoRequest request(String message) {
    return EchoRequest.newBuilder().setMessage(message).build();
  }

  private static double metric(String name, String... labels) throws Exception {
    return Metrics.scrape(gateway.gateway().adminPort()).sum(name, labels);
  }

  @Test
  void aHitIsAnsweredWithoutTheBackendAndMarked() throws Exception {
    String text = "hit-" + IDS.incrementAndGet();
    int before = control.calls("Echo");
    AtomicReference<Metadata> first = new AtomicReference<>();
    assertEquals(text, echo(null, first).echo(request(text)).getMessage());
    assertNull(header(first, "x-meshgate-cache"), "a miss comes from the backend");
    AtomicReference<Metadata> second = new AtomicReference<>();
    EchoResponse again = echo(null, second).echo(request(text));
    assertEquals(text, again.getMessage());
    assertEquals("hit", header(second, "x-meshgate-cache"));
    assertEquals(before + 1, control.calls("Echo"), "the second call never reached the backend");
    // Another request is another key.
    echo(null, new AtomicReference<>()).echo(request(text + "-other"));
    assertEquals(before + 2, control.calls("Echo"));
    assertTrue(metric("meshgate_cache_lookups_total", "route", "echo", "result", "hit") >= 1);
    assertTrue(metric("meshgate_cache_lookups_total", "route", "echo", "result", "miss") >= 2);
  }

  @Test
  void theClientAndTheBackendCanKeepAnAnswerOutOfTheCache() throws Exception {
    String text = "cc-" + IDS.incrementAndGet();
    int before = control.calls("Echo");
    echo(null, new AtomicReference<>()).echo(request(text));
    AtomicReference<Metadata> fresh = new AtomicReference<>();
    echo(null, fresh, "cache-control", "no-cache").echo(request(text));
    assertNull(header(fresh, "x-meshgate-cache"), "no-cache: the backend answers");
    assertEquals(before + 2, control.calls("Echo"));
    // The backend says no-store: nothing is kept, every call goes through.
    String uncached = "ns-" + IDS.incrementAndGet();
    echo(null, new AtomicReference<>(), "x-test-cache-control", "no-store")
        .echo(request(uncached));
    echo(null, new AtomicReference<>(), "x-test-cache-control", "no-store")
        .echo(request(uncached));
    assertEquals(before + 4, control.calls("Echo"));
    // A call with credentials is never cached on a route whose key leaves the subject out.
    String secret = "auth-" + IDS.incrementAndGet();
    echo(null, new AtomicReference<>(), "authorization", "Bearer abc").echo(request(secret));
    AtomicReference<Metadata> withToken = new AtomicReference<>();
    echo(null, withToken, "authorization", "Bearer abc").echo(request(secret));
    assertNull(header(withToken, "x-meshgate-cache"));
    assertEquals(before + 6, control.calls("Echo"));
  }

  @Test
  void onlyReadOnlyUnaryCallsAreCached() throws Exception {
    // GetUser has no idempotency option: gRPC calls of it go through every time, REST GETs of
    // it are cached.
    int before = control.calls("GetUser");
    var users = UserDirectoryGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    users.getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    users.getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    assertEquals(before + 2, control.calls("GetUser"));
    HttpResponse<String> miss = get("/v1/users/u-2");
    HttpResponse<String> hit = get("/v1/users/u-2");
    assertEquals(200, hit.statusCode());
    assertEquals(miss.body(), hit.body());
    assertTrue(hit.body().contains("Grace Hopper"), hit.body());
    assertEquals("hit", hit.headers().firstValue("x-meshgate-cache").orElse(null));
    assertEquals(before + 3, control.calls("GetUser"));
    // A stream (Expand) is not cached.
    int expands = control.calls("Expand");
    EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .expand(request("s")).forEachRemaining(r -> { });
    EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .expand(request("s")).forEachRemaining(r -> { });
    assertEquals(expands + 2, control.calls("Expand"));
  }

  /** An HTTP/1.1 response read off a socket: status, headers (lower-case names), body. */
  record RawResponse(int statusCode, Map<String, String> headers, String body) {}

  /** A REST POST with a {@code Host} of our choosing (java.net.http will not send one). */
  private static RawResponse post(String host, String path, String json) throws Exception {
    byte[] body = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gateway.port())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: " + host
          + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
          + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      socket.getOutputStream().write(body);
      String response = new String(socket.getInputStream().readAllBytes(),
          java.nio.charset.StandardCharsets.UTF_8);
      int end = response.indexOf("\r\n\r\n");
      String[] lines = response.substring(0, end).split("\r\n");
      Map<String, String> headers = new java.util.HashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT),
            lines[i].substring(colon + 1).trim());
      }
      return new RawResponse(Integer.parseInt(lines[0].split(" ")[1]), headers,
          response.substring(end + 4));
    }
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + gateway.address() + path))
        .GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void theCacheStaysWithinItsBytesAndAnswersExpireWithTheirTtl() throws Exception {
    // maxBytes 4096: each answer costs ~600 bytes with its estimate, so a dozen evict the first.
    int before = control.calls("Echo");
    for (int i = 0; i < 12; i++) {
      echo("small.test", new AtomicReference<>()).echo(request("size-" + i));
    }
    assertTrue(metric("meshgate_cache_bytes", "route", "echo-small") <= 4096);
    assertTrue(metric("meshgate_cache_bytes", "route", "echo-small") > 0);
    AtomicReference<Metadata> evicted = new AtomicReference<>();
    echo("small.test", evicted).echo(request("size-0"));
    assertNull(header(evicted, "x-meshgate-cache"), "the least recently used answer was evicted");
    AtomicReference<Metadata> recent = new AtomicReference<>();
    echo("small.test", recent).echo(request("size-11"));
    assertEquals("hit", header(recent, "x-meshgate-cache"));
    // An answer larger than maxEntryBytes is never kept.
    EchoRequest big = EchoRequest.newBuilder().setMessage("big")
        .setPayload(com.google.protobuf.ByteString.copyFrom(new byte[4000])).build();
    echo("small.test", new AtomicReference<>()).echo(big);
    AtomicReference<Metadata> bigAgain = new AtomicReference<>();
    echo("small.test", bigAgain).echo(big);
    assertNull(header(bigAgain, "x-meshgate-cache"));
    assertEquals(before + 12 + 1 + 2, control.calls("Echo"));

    // ttl 200ms on echo-stale: a hit at once, a miss once it has passed.
    String text = "ttl-" + IDS.incrementAndGet();
    echo("stale.test", new AtomicReference<>()).echo(request(text));
    long storedAt = System.nanoTime();
    AtomicReference<Metadata> hit = new AtomicReference<>();
    echo("stale.test", hit).echo(request(text));
    boolean stillFresh = System.nanoTime() - storedAt < TimeUnit.MILLISECONDS.toNanos(200);
    if (stillFresh) {
      assertEquals("hit", header(hit, "x-meshgate-cache"));
    }
    int calls = control.calls("Echo");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    AtomicReference<Metadata> later = new AtomicReference<>();
    do {
      later.set(null);
      echo("stale.test", later).echo(request(text));
    } while ("hit".equals(header(later, "x-meshgate-cache")) && System.nanoTime() < deadline);
    assertNull(header(later, "x-meshgate-cache"), "after its TTL the answer comes from the"
        + " backend again");
    assertEquals(calls + 1, control.calls("Echo"));
  }

  @Test
  void aFailingStatusGetsTheConfiguredMessage() throws Exception {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    EchoResponse answer = echo("fallback.test", headers).echo(EchoRequest.newBuilder()
        .setFailCode(Status.Code.UNAVAILABLE.value()).setFailMessage("db down").build());
    assertEquals("from the fallback", answer.getMessage());
    assertEquals(7, answer.getSequence());
    assertEquals("status", header(headers, "x-meshgate-fallback"));
    assertEquals("yes", header(headers, "x-degraded"));
    // A status the fallback does not name passes as it is.
    StatusRuntimeException notFound = assertThrows(StatusRuntimeException.class,
        () -> echo("fallback.test", new AtomicReference<>()).echo(EchoRequest.newBuilder()
            .setFailCode(Status.Code.NOT_FOUND.value()).setFailMessage("no such").build()));
    assertEquals(Status.Code.NOT_FOUND, notFound.getStatus().getCode());
    assertEquals(1, metric("meshgate_fallbacks_total", "route", "echo-fallback", "trigger",
        "status", "answer", "static"), 0.0);
    // The REST form: the message as JSON, 200, marked.
    RawResponse rest = post("fallback.test", "/v1/echo", "{\"failCode\": 14}");
    assertEquals(200, rest.statusCode(), rest.body());
    assertTrue(rest.body().contains("from the fallback"), rest.body());
    assertEquals("status", rest.headers().get("x-meshgate-fallback"));
  }

  @Test
  void aBackendTooSlowForTheRouteDeadlineGetsTheFallback() throws Exception {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    // The client allows 10 s; the route's maxTimeout of 300ms passes first.
    EchoResponse answer = echo("fallback.test", headers).echo(EchoRequest.newBuilder()
        .setDelayMillis(5_000).build());
    assertEquals("from the fallback", answer.getMessage());
    assertEquals("timeout", header(headers, "x-meshgate-fallback"));
  }

  @Test
  void anOpenBreakerGetsTheFallbackStatus() throws Exception {
    // Failures open the breaker of cluster 'fragile'; while open, calls get the fallback's
    // status, without reaching the backend.
    for (int i = 0; i < 3; i++) {
      StatusRuntimeException failed = assertThrows(StatusRuntimeException.class,
          () -> echo("breaker.test", new AtomicReference<>()).echo(EchoRequest.newBuilder()
              .setFailCode(Status.Code.INTERNAL.value()).setFailMessage("boom").build()));
      assertEquals(Status.Code.INTERNAL, failed.getStatus().getCode(), "not a breaker trigger");
    }
    int before = control.calls("Echo");
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    StatusRuntimeException paused = assertThrows(StatusRuntimeException.class,
        () -> echo("breaker.test", trailers).echo(request("after")));
    assertEquals(Status.Code.UNAVAILABLE, paused.getStatus().getCode());
    assertEquals("payments are paused; try later", paused.getStatus().getDescription());
    assertEquals("breaker", header(trailers, "x-meshgate-fallback"));
    assertEquals(before, control.calls("Echo"), "the open breaker kept it from the backend");
    RawResponse rest = post("breaker.test", "/v1/echo", "{}");
    assertEquals(503, rest.statusCode());
    assertTrue(rest.body().contains("payments are paused"), rest.body());
    assertEquals("breaker", rest.headers().get("x-meshgate-fallback"));
  }

  @Test
  void aDownBackendGetsTheLastGoodAnswerStale() throws Exception {
    String text = "stale-" + IDS.incrementAndGet();
    echo("stale.test", new AtomicReference<>()).echo(request(text));
    control.down.set(true);
    try {
      // Past its 200ms TTL the answer is stale, but the route gives it while the backend fails.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      AtomicReference<Metadata> headers = new AtomicReference<>();
      EchoResponse answer;
      do {
        headers.set(null);
        answer = echo("stale.test", headers).echo(request(text));
      } while ("hit".equals(header(headers, "x-meshgate-cache")) && System.nanoTime() < deadline);
      assertEquals(text, answer.getMessage());
      assertEquals("stale", header(headers, "x-meshgate-cache"));
      assertEquals("status", header(headers, "x-meshgate-fallback"));
      // A request never answered before has nothing stale: the failure shows.
      StatusRuntimeException failed = assertThrows(StatusRuntimeException.class,
          () -> echo("stale.test", new AtomicReference<>()).echo(request(text + "-new")));
      assertEquals(Status.Code.UNAVAILABLE, failed.getStatus().getCode());
    } finally {
      control.down.set(false);
    }
    assertTrue(metric("meshgate_fallbacks_total", "route", "echo-stale", "answer", "stale")
        >= 1);
  }
}
