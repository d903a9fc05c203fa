package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
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
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routes' {@code hedging} against a real backend that misbehaves on an attempt of our choosing
 * (by the {@code grpc-previous-rpc-attempts} header the gateway sends): a first attempt that
 * never answers loses to the second and is cancelled; a non-fatal failure lets the next attempt
 * start at once; a fatal one ends the call; methods not marked idempotent are sent once unless
 * the route opts in.
 */
@Timeout(60)
class HedgingIntegrationTest {
  private static final AtomicInteger IDS = new AtomicInteger();
  private static final Metadata.Key<String> ID =
      Metadata.Key.of("x-test-id", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> FIRST =
      Metadata.Key.of("x-test-first", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> PREVIOUS =
      Metadata.Key.of("grpc-previous-rpc-attempts", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> ATTEMPT =
      Metadata.Key.of("x-attempt", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static final Attempts attempts = new Attempts();
  private static Server backend;
  private static TestGateway gateway;
  private static ManagedChannel channel;

  /**
   * Counts attempts per test id and tags answers with their attempt number; the first attempt
   * hangs ({@code x-test-first: hang}) or fails ({@code x-test-first: CODE}) when asked.
   */
  static final class Attempts implements ServerInterceptor {
    final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    final Map<String, CompletableFuture<Void>> firstCancelled = new ConcurrentHashMap<>();

    int seen(String id) {
      return seen.computeIfAbsent(id, k -> new AtomicInteger()).get();
    }

    CompletableFuture<Void> firstCancelled(String id) {
      return firstCancelled.computeIfAbsent(id, k -> new CompletableFuture<>());
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
        Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      String id = String.valueOf(headers.get(ID));
      seen.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
      String previous = headers.get(PREVIOUS);
      int attempt = previous == null ? 1 : Integer.parseInt(previous) + 1;
      String first = headers.get(FIRST);
      if (attempt == 1 && "hang".equals(first)) {
        call.request(Integer.MAX_VALUE);
        return new ServerCall.Listener<>() {
          @Override
          public void onCancel() {
            firstCancelled(id).complete(null);
          }
        };
      }
      if (attempt == 1 && first != null) {
        call.close(Status.fromCode(Status.Code.valueOf(first))
            .withDescription("first attempt fails (test)"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
        @Override
        public void sendHeaders(Metadata responseHeaders) {
          responseHeaders.put(ATTEMPT, Integer.toString(attempt));
          super.sendHeaders(responseHeaders);
        }
      }, headers);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new EchoServiceImpl("b", scheduler), attempts))
        .build().start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - name: patient
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo,
                    authority: [patient.test]}
            cluster: echo
            hedging: {maxAttempts: 3, hedgingDelay: 30s}
          - name: hedged
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo}
            cluster: echo
            hedging: {maxAttempts: 3, hedgingDelay: 100ms}
          - name: collect
            match: {service: meshgate.samples.echo.v1.EchoService, method: Collect}
            cluster: echo
            hedging: {maxAttempts: 3, hedgingDelay: 0s}
          - name: opted-in
            match: {service: meshgate.samples.echo.v1.EchoService, method: Expand}
            cluster: echo
            hedging: {maxAttempts: 3, hedgingDelay: 0s, nonIdempotent: true}
        """.formatted(SampleFleet.descriptorSet(dir), backend.getPort()));
    channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    gateway.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  /** Stubs for calls with test id {@code id}, to {@code authority} (null: the default). */
  private static Channel channel(String id, String first, String authority,
      AtomicReference<Metadata> responseHeaders) {
    Metadata metadata = new Metadata();
    metadata.put(ID, id);
    if (first != null) {
      metadata.put(FIRST, first);
    }
    return io.grpc.ClientInterceptors.intercept(channel, new ClientInterceptor() {
      @Override
      public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
          MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
        return next.newCall(method, authority == null ? options
            : options.withAuthority(authority));
      }
    }, MetadataUtils.newAttachHeadersInterceptor(metadata),
        MetadataUtils.newCaptureMetadataInterceptor(responseHeaders, new AtomicReference<>()));
  }

  private static String id() {
    return "h-" + IDS.incrementAndGet();
  }

  @Test
  void aFirstAttemptThatHangsLosesToTheSecondAndIsCancelled() throws Exception {
    String id = id();
    AtomicReference<Metadata> headers = new AtomicReference<>();
    double wonBefore = Metrics.scrape(gateway.gateway().adminPort()).sum(
        "meshgate_hedges_won_total", "route", "hedged");
    EchoResponse answer = EchoServiceGrpc.newBlockingStub(channel(id, "hang", null, headers))
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage("x").build());
    assertEquals("x", answer.getMessage());
    assertEquals("2", headers.get().get(ATTEMPT), "the second attempt answered");
    attempts.firstCancelled(id).get(10, TimeUnit.SECONDS); // the loser is cancelled
    assertEquals(2, attempts.seen(id), "no third attempt once one answered");
    Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
    assertEquals(wonBefore + 1, metrics.sum("meshgate_hedges_won_total", "route", "hedged"));
    assertTrue(metrics.sum("meshgate_hedges_total", "route", "hedged") >= 1);
  }

  @Test
  void aNonFatalFailureStartsTheNextAttemptAtOnce() {
    // hedgingDelay is 30 s on this route: only the failure's own trigger can start attempt 2
    // within the client's 5 s deadline.
    String id = id();
    AtomicReference<Metadata> headers = new AtomicReference<>();
    EchoResponse answer = EchoServiceGrpc.newBlockingStub(channel(id, "UNAVAILABLE",
            "patient.test", headers)).withDeadlineAfter(5, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage("y").build());
    assertEquals("y", answer.getMessage());
    assertEquals("2", headers.get().get(ATTEMPT));
    assertEquals(2, attempts.seen(id));
  }

  @Test
  void aFatalStatusEndsTheCall() {
    String id = id();
    StatusRuntimeException failed = assertThrows(StatusRuntimeException.class,
        () -> EchoServiceGrpc.newBlockingStub(channel(id, "PERMISSION_DENIED", "patient.test",
            new AtomicReference<>())).withDeadlineAfter(5, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("z").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, failed.getStatus().getCode());
    assertEquals(1, attempts.seen(id));
  }

  @Test
  void methodsNotMarkedIdempotentAreSentOnceUnlessTheRouteOptsIn() throws Exception {
    // Collect (client streaming, no idempotency option) on a route hedging all at once.
    String id = id();
    CompletableFuture<EchoResponse> collected = new CompletableFuture<>();
    var requests = EchoServiceGrpc.newStub(channel(id, null, null, new AtomicReference<>()))
        .withDeadlineAfter(10, TimeUnit.SECONDS).collect(observer(collected));
    requests.onNext(EchoRequest.newBuilder().setMessage("a").build());
    requests.onNext(EchoRequest.newBuilder().setMessage("b").build());
    requests.onCompleted();
    assertEquals(2, collected.get(10, TimeUnit.SECONDS).getReceivedCount());
    assertEquals(1, attempts.seen(id), "not hedged: Collect may have side effects");
    // Expand is not marked either, but its route says nonIdempotent: three attempts at once,
    // one stream to the client.
    String optedIn = id();
    int[] received = {0};
    EchoServiceGrpc.newBlockingStub(channel(optedIn, null, null, new AtomicReference<>()))
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .expand(EchoRequest.newBuilder().setMessage("e").setResponseCount(3).build())
        .forEachRemaining(r -> received[0]++);
    assertEquals(3, received[0], "the client saw one attempt's stream");
    assertEquals(3, attempts.seen(optedIn));
  }

  private static <T> io.grpc.stub.StreamObserver<T> observer(CompletableFuture<T> into) {
    return new io.grpc.stub.StreamObserver<>() {
      @Override
      public void onNext(T value) {
        into.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        into.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
  }
}
