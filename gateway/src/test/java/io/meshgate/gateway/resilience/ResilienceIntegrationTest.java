package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Observers;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retries and the circuit breaker end to end, against a backend that fails on command: the
 * request's message says how (e.g. {@code fail-2-<id>}: UNAVAILABLE for the first two attempts
 * of that id). The backend counts the attempts it saw.
 */
@Timeout(60)
class ResilienceIntegrationTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final AtomicInteger IDS = new AtomicInteger();

  @TempDir
  static Path dir;
  private static FlakyEcho backend;
  private static Server server;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    backend = new FlakyEcho();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(backend, backend.headers())).build().start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: [%s]}
        clusters:
          - {name: echo, endpoints: [127.0.0.1:%2$d]}
          - name: fragile
            endpoints: [127.0.0.1:%2$d]
            circuitBreaker: {windowSize: 4, minimumCalls: 4, failureRateThreshold: 50,
                             openDuration: 1h, halfOpenCalls: 1}
        routes:
          - name: expand
            match: {service: meshgate.samples.echo.v1.EchoService, method: Expand}
            cluster: fragile
          - name: chat
            match: {service: meshgate.samples.echo.v1.EchoService, method: Chat}
            cluster: echo
            retry: {maxAttempts: 5, initialBackoff: 1ms, maxBackoff: 2ms,
                    budget: {ratio: 0.1, minPerSecond: 0}}
          - name: echo
            match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
            timeout: 10s
            retry: {maxAttempts: 3, initialBackoff: 1ms, maxBackoff: 5ms, perTryTimeout: 300ms,
                    bufferBytes: 1KiB, budget: {ratio: 1, minPerSecond: 1000}}
        """.formatted(SampleFleet.descriptorSet(dir), server.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    if (gateway != null) {
      gateway.close();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    backend.timer.shutdownNow();
  }

  private static String id() {
    return "id" + IDS.incrementAndGet();
  }

  private static EchoServiceGrpc.EchoServiceBlockingStub stub() {
    return EchoServiceGrpc.newBlockingStub(gateway.channel()).withDeadlineAfter(10,
        TimeUnit.SECONDS);
  }

  private static EchoResponse echo(String message) {
    return stub().echo(EchoRequest.newBuilder().setMessage(message).build());
  }

  private static double metric(String name, String... labels) throws Exception {
    return Metrics.scrape(gateway.gateway().adminPort()).sum(name, labels);
  }

  // ---- Retries -------------------------------------------------------------------------------

  @Test
  void anUnavailableCallIsRetriedAndTheClientSeesOnlyTheSuccess() throws Exception {
    double retriesBefore = metric("meshgate_retries_total", "route", "echo");
    String id = id();
    EchoResponse response = echo("fail-2-" + id);
    assertEquals("attempt 3 (previous: 2)", response.getMessage());
    assertEquals(3, backend.attempts(id));
    assertEquals(2, metric("meshgate_retries_total", "route", "echo") - retriesBefore);

    String restId = id();
    HttpResponse<String> rest = HTTP.send(HttpRequest.newBuilder(URI.create("http://"
        + gateway.address() + "/v1/echo")).POST(HttpRequest.BodyPublishers.ofString(
            "{\"message\":\"fail-1-" + restId + "\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, rest.statusCode(), rest.body());
    assertTrue(rest.body().contains("attempt 2 (previous: 1)"), rest.body());
  }

  @Test
  void afterMaxAttemptsTheLastFailureReachesTheClient() {
    String id = id();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> echo("fail-9-" + id));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("planned failure 3 of " + id, e.getStatus().getDescription());
    assertEquals(3, backend.attempts(id));
  }

  @Test
  void statusesNotListedAreNotRetried() {
    String id = id();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> echo("internal-1-" + id));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertEquals(1, backend.attempts(id));
  }

  @Test
  void anAttemptPastThePerTryTimeoutIsRetried() {
    String id = id();
    EchoResponse response = echo("slow-1-" + id);
    assertEquals("attempt 2 (previous: 1)", response.getMessage());
    assertEquals(2, backend.attempts(id));
  }

  @Test
  void aCallIsNeverRetriedOnceResponseHeadersWereSent() {
    String id = id();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> echo("headers-then-fail-" + id));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals(1, backend.attempts(id));
  }

  @Test
  void aClientStreamIsReplayedWholeOrNotRetriedWhenTooLarge() throws Exception {
    String id = id();
    assertEquals("3 messages on attempt 2", collect(id, "fail-1-" + id, 3, 10).getMessage());

    String big = id();
    ExecutionFailure failure = assertThrows(ExecutionFailure.class,
        () -> collect(big, "fail-1-" + big, 2, 800));
    assertEquals(Status.Code.UNAVAILABLE, failure.status.getCode(),
        "1.6 KiB of requests does not fit the 1 KiB replay buffer");
    assertEquals(1, backend.attempts(big));
  }

  private static final class ExecutionFailure extends Exception {
    private static final long serialVersionUID = 1L;
    final Status status;

    ExecutionFailure(Status status) {
      this.status = status;
    }
  }

  private static EchoResponse collect(String id, String first, int count, int payloadBytes)
      throws Exception {
    CompletableFuture<EchoResponse> result = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = EchoServiceGrpc.newStub(gateway.channel())
        .collect(Observers.completing(result));
    for (int i = 0; i < count; i++) {
      requests.onNext(EchoRequest.newBuilder().setMessage(i == 0 ? first : id)
          .setPayload(com.google.protobuf.ByteString.copyFrom(new byte[payloadBytes])).build());
    }
    requests.onCompleted();
    try {
      return result.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new ExecutionFailure(Status.fromThrowable(e.getCause()));
    }
  }

  @Test
  void theRetryBudgetKeepsAnOutageFromMultiplyingLoad() throws Exception {
    double exhaustedBefore = metric("meshgate_retry_budget_exhausted_total", "route", "chat");
    String id = id();
    int calls = 40;
    for (int i = 0; i < calls; i++) {
      CompletableFuture<EchoResponse> result = new CompletableFuture<>();
      StreamObserver<EchoRequest> requests = EchoServiceGrpc.newStub(gateway.channel())
          .chat(Observers.completing(result));
      requests.onNext(EchoRequest.newBuilder().setMessage("fail-99-" + id).build());
      requests.onCompleted();
      java.util.concurrent.ExecutionException e = assertThrows(
          java.util.concurrent.ExecutionException.class, () -> result.get(10, TimeUnit.SECONDS));
      assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(e.getCause()).getCode());
    }
    int attempts = backend.attempts(id);
    assertTrue(attempts <= calls + calls / 10 + 1,
        "without a budget 40 calls of 5 attempts make 200; with 10%: " + attempts);
    assertTrue(attempts > calls, "some retries are within budget: " + attempts);
    assertTrue(metric("meshgate_retry_budget_exhausted_total", "route", "chat")
        > exhaustedBefore);
  }

  // ---- Circuit breaker -----------------------------------------------------------------------

  @Test
  void anOpenBreakerFailsCallsAtOnceWithoutReachingTheCluster() throws Exception {
    String id = id();
    for (int i = 0; i < 4; i++) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> expand("fail-99-" + id));
      assertEquals("planned failure " + (i + 1) + " of " + id, e.getStatus().getDescription(),
          "the cluster's own failures pass through while the breaker is closed");
    }
    assertEquals(4, backend.attempts(id));
    String healthy = id();
    StatusRuntimeException open = assertThrows(StatusRuntimeException.class,
        () -> expand(healthy));
    assertEquals(Status.Code.UNAVAILABLE, open.getStatus().getCode());
    assertTrue(open.getStatus().getDescription().startsWith("the circuit breaker of cluster"
        + " 'fragile' is open (100% of recent calls failed"), open.getStatus().getDescription());
    assertEquals(0, backend.attempts(healthy), "an open breaker keeps calls off the cluster");

    HttpResponse<String> rest = HTTP.send(HttpRequest.newBuilder(URI.create("http://"
        + gateway.address() + "/v1/echo:expand?message=" + healthy)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(503, rest.statusCode());
    assertTrue(rest.body().contains("circuit breaker of cluster 'fragile' is open"), rest.body());
    assertEquals(1, metric("meshgate_circuit_breaker_state", "cluster", "fragile", "state",
        "open"));
    assertTrue(metric("meshgate_circuit_breaker_rejections_total", "cluster", "fragile") >= 2);
  }

  private static List<EchoResponse> expand(String message) {
    Iterator<EchoResponse> it = stub().expand(EchoRequest.newBuilder().setMessage(message)
        .build());
    List<EchoResponse> all = new ArrayList<>();
    it.forEachRemaining(all::add);
    return all;
  }

  // ---- The backend ---------------------------------------------------------------------------

  /**
   * Echo that fails on command. {@code fail-N-id}: UNAVAILABLE for the first N attempts;
   * {@code internal-N-id}: INTERNAL; {@code slow-N-id}: the first N attempts answer after 2 s;
   * {@code headers-then-fail-id}: response headers, then UNAVAILABLE. Otherwise it answers
   * "attempt K (previous: P)" with P from grpc-previous-rpc-attempts.
   */
  static final class FlakyEcho extends EchoServiceGrpc.EchoServiceImplBase {
    final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    private static final io.grpc.Context.Key<String> PREVIOUS = io.grpc.Context.key("previous");

    int attempts(String id) {
      AtomicInteger n = attempts.get(id);
      return n == null ? 0 : n.get();
    }

    ServerInterceptor headers() {
      Metadata.Key<String> previous =
          Metadata.Key.of("grpc-previous-rpc-attempts", Metadata.ASCII_STRING_MARSHALLER);
      return new ServerInterceptor() {
        @Override
        public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
            Metadata headers, ServerCallHandler<ReqT, RespT> next) {
          String p = headers.get(previous);
          return io.grpc.Contexts.interceptCall(io.grpc.Context.current().withValue(PREVIOUS,
              p == null ? "0" : p), call, headers, next);
        }
      };
    }

    /** Counts the attempt; returns a failure to answer with, or null to answer. */
    private Status plan(String message, StreamObserver<?> out) {
      String[] parts = message.split("-", 3);
      String id = parts.length == 3 ? parts[2] : message;
      if (message.startsWith("headers-then-fail-")) {
        id = message.substring("headers-then-fail-".length());
      }
      int attempt = attempts.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
      if (parts.length == 3 && parts[0].equals("fail")
          && attempt <= Integer.parseInt(parts[1])) {
        return Status.UNAVAILABLE.withDescription("planned failure " + attempt + " of " + id);
      }
      if (parts.length == 3 && parts[0].equals("internal")
          && attempt <= Integer.parseInt(parts[1])) {
        return Status.INTERNAL.withDescription("planned internal error of " + id);
      }
      return null;
    }

    @Override
    public void echo(EchoRequest request, StreamObserver<EchoResponse> out) {
      String message = request.getMessage();
      if (message.startsWith("headers-then-fail-")) {
        plan(message, out);
        // The message sends the response headers first: the gateway must not retry after them.
        out.onNext(EchoResponse.newBuilder().setMessage("partial").build());
        out.onError(Status.UNAVAILABLE.withDescription("failed after headers").asException());
        return;
      }
      Status failure = plan(message, out);
      if (failure != null) {
        out.onError(failure.asException());
        return;
      }
      String id = message.split("-", 3).length == 3 ? message.split("-", 3)[2] : message;
      int attempt = attempts(id);
      EchoResponse response = EchoResponse.newBuilder()
          .setMessage("attempt " + attempt + " (previous: " + PREVIOUS.get() + ")").build();
      if (message.startsWith("slow-") && attempt <= Integer.parseInt(message.split("-")[1])) {
        timer.schedule(() -> {
          out.onNext(response);
          out.onCompleted();
        }, 2, TimeUnit.SECONDS);
        return;
      }
      out.onNext(response);
      out.onCompleted();
    }

    @Override
    public void expand(EchoRequest request, StreamObserver<EchoResponse> out) {
      Status failure = plan(request.getMessage(), out);
      if (failure != null) {
        out.onError(failure.asException());
        return;
      }
      out.onNext(EchoResponse.newBuilder().setMessage("ok").build());
      out.onCompleted();
    }

    @Override
    public StreamObserver<EchoRequest> collect(StreamObserver<EchoResponse> out) {
      return new StreamObserver<>() {
        private final List<EchoRequest> received = new ArrayList<>();

        @Override
        public void onNext(EchoRequest value) {
          received.add(value);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          Status failure = plan(received.get(0).getMessage(), out);
          if (failure != null) {
            out.onError(failure.asException());
            return;
          }
          String id = received.get(0).getMessage().split("-", 3)[2];
          out.onNext(EchoResponse.newBuilder().setMessage(received.size() + " messages on"
              + " attempt " + attempts(id)).build());
          out.onCompleted();
        }
      };
    }

    @Override
    public StreamObserver<EchoRequest> chat(StreamObserver<EchoResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(EchoRequest value) {
          Status failure = plan(value.getMessage(), out);
          if (failure != null) {
            out.onError(failure.asException());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }
  }
}
