package io.meshgate.gateway.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.meshgate.gateway.testing.MetadataProbe;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routes' {@code faults}: aborts answer with their status instead of the backend (REST with its
 * HTTP status), delays hold calls with their deadline running, header control injects either
 * into one call, the control headers stay at the gateway, and routes without faults have none.
 */
class FaultInjectionIntegrationTest {
  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static final MetadataProbe probe = new MetadataProbe("x-meshgate-fault-abort");
  private static EchoServiceImpl echo;
  private static Server backend;
  private static TestGateway gateway;
  private static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    echo = new EchoServiceImpl("faults", scheduler);
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, probe)).build().start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - name: aborting
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo}
            cluster: echo
            faults: {abort: {percent: 100, status: UNAVAILABLE}}
          - name: slow
            match: {service: meshgate.samples.echo.v1.EchoService, method: Collect}
            cluster: echo
            faults: {delay: {percent: 100, duration: 300ms}}
          - name: controlled
            match: {service: meshgate.samples.echo.v1.EchoService, method: Expand}
            cluster: echo
            faults: {headerControl: true}
          - {name: plain, match: {servicePrefix: ""}, cluster: echo}
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

  private static Metadata headers(String... headers) {
    Metadata metadata = new Metadata();
    for (int i = 0; i < headers.length; i += 2) {
      metadata.put(Metadata.Key.of(headers[i], Metadata.ASCII_STRING_MARSHALLER), headers[i + 1]);
    }
    return metadata;
  }

  private static EchoServiceGrpc.EchoServiceBlockingStub stub(String... headers) {
    return EchoServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(headers)));
  }

  private static EchoRequest request() {
    return EchoRequest.newBuilder().setMessage("f").build();
  }

  @Test
  void anAbortAnswersInsteadOfTheBackend() throws Exception {
    long before = echo.callsStarted();
    StatusRuntimeException aborted = org.junit.jupiter.api.Assertions.assertThrows(
        StatusRuntimeException.class, () -> stub().withDeadlineAfter(5, TimeUnit.SECONDS)
            .echo(request()));
    assertEquals(Status.Code.UNAVAILABLE, aborted.getStatus().getCode());
    assertTrue(aborted.getStatus().getDescription().contains("fault injected by route"
        + " 'aborting'"), aborted.getStatus().getDescription());
    HttpResponse<String> rest = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + "/v1/echo"))
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(503, rest.statusCode());
    assertEquals(before, echo.callsStarted(), "the backend saw none of them");
    assertEquals(2, (int) Metrics.scrape(gateway.gateway().adminPort()).sum(
        "meshgate_faults_injected_total", "route", "aborting", "kind", "abort"));
  }

  @Test
  void aDelayHoldsTheCallWithItsDeadlineRunning() throws Exception {
    var async = EchoServiceGrpc.newStub(channel);
    long started = System.nanoTime();
    assertEquals(1, collect(async.withDeadlineAfter(5, TimeUnit.SECONDS)));
    assertTrue(System.nanoTime() - started >= TimeUnit.MILLISECONDS.toNanos(300),
        "held for the delay");
    StatusRuntimeException late = org.junit.jupiter.api.Assertions.assertThrows(
        StatusRuntimeException.class, () -> collect(async.withDeadlineAfter(100,
            TimeUnit.MILLISECONDS)));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode());
  }

  private static long collect(EchoServiceGrpc.EchoServiceStub stub) throws Exception {
    java.util.concurrent.CompletableFuture<Long> done = new java.util.concurrent
        .CompletableFuture<>();
    var requests = stub.collect(new io.grpc.stub.StreamObserver<>() {
      @Override
      public void onNext(io.meshgate.samples.echo.v1.EchoResponse value) {
        done.complete(value.getReceivedCount());
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    requests.onNext(request());
    requests.onCompleted();
    try {
      return done.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw (StatusRuntimeException) e.getCause();
    }
  }

  @Test
  void headersInjectFaultsIntoOneCallOnlyWhereTheRouteAllowsIt() {
    StatusRuntimeException forced = org.junit.jupiter.api.Assertions.assertThrows(
        StatusRuntimeException.class, () -> stub("x-meshgate-fault-abort", "RESOURCE_EXHAUSTED")
            .withDeadlineAfter(5, TimeUnit.SECONDS).expand(request()).hasNext());
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, forced.getStatus().getCode());
    assertTrue(stub().withDeadlineAfter(5, TimeUnit.SECONDS).expand(request()).hasNext(),
        "without the header the call goes through");
    StatusRuntimeException delayed = org.junit.jupiter.api.Assertions.assertThrows(
        StatusRuntimeException.class, () -> stub("x-meshgate-fault-delay", "2s")
            .withDeadlineAfter(200, TimeUnit.MILLISECONDS).expand(request()).hasNext());
    assertEquals(Status.Code.DEADLINE_EXCEEDED, delayed.getStatus().getCode());
    // The controlled route keeps its control headers (OK aborts nothing: the call goes on).
    assertTrue(stub("x-meshgate-fault-abort", "OK").withDeadlineAfter(5, TimeUnit.SECONDS)
        .expand(request()).hasNext());
    // A route without faults takes no orders from headers and passes them on untouched.
    java.util.concurrent.CompletableFuture<Void> chatted =
        new java.util.concurrent.CompletableFuture<>();
    var chat = EchoServiceGrpc.newStub(channel).withInterceptors(
        MetadataUtils.newAttachHeadersInterceptor(headers("x-meshgate-fault-abort", "INTERNAL")))
        .withDeadlineAfter(5, TimeUnit.SECONDS).chat(new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(io.meshgate.samples.echo.v1.EchoResponse value) {}

          @Override
          public void onError(Throwable t) {
            chatted.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            chatted.complete(null);
          }
        });
    chat.onNext(request());
    chat.onCompleted();
    chatted.join();
    assertEquals(java.util.List.of("INTERNAL"), probe.seen(),
        "the plain route passed the header on; the controlled one kept its own");
  }
}
