package io.meshgate.gateway.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A route's {@code mirror}: copies of unary calls and streams reach the mirror cluster, whose
 * answers are dropped; a mirror that never answers can neither slow nor fail the primary, and
 * beyond {@code maxInFlight} copies are dropped and counted.
 */
class MirrorIntegrationTest {
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
    scheduler.shutdownNow();
  }

  private EchoServiceImpl backend() throws Exception {
    EchoServiceImpl echo = new EchoServiceImpl("b", scheduler);
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(echo).build().start();
    closing.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    lastPort = server.getPort();
    return echo;
  }

  private int lastPort;

  private TestGateway gateway(int primary, int mirror, int maxInFlight) throws Exception {
    TestGateway gateway = TestGateway.start("""
        clusters:
          - {name: primary, endpoints: ["127.0.0.1:%d"]}
          - {name: shadow, endpoints: ["127.0.0.1:%d"]}
        routes:
          - name: mirrored
            match: {servicePrefix: ""}
            cluster: primary
            mirror: {cluster: shadow, percent: 100, maxInFlight: %d}
        """.formatted(primary, mirror, maxInFlight));
    closing.add(gateway);
    return gateway;
  }

  private EchoServiceGrpc.EchoServiceBlockingStub client(TestGateway gateway) {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext()
        .build();
    closing.add(channel::shutdownNow);
    return EchoServiceGrpc.newBlockingStub(channel);
  }

  @Test
  void copiesOfUnaryCallsAndStreamsReachTheMirror() throws Exception {
    EchoServiceImpl primary = backend();
    int primaryPort = lastPort;
    EchoServiceImpl shadow = backend();
    TestGateway gateway = gateway(primaryPort, lastPort, 100);
    var stub = client(gateway);
    for (int i = 0; i < 5; i++) {
      assertEquals("b", stub.withDeadlineAfter(5, TimeUnit.SECONDS).echo(EchoRequest
          .newBuilder().setMessage("m").build()).getServedBy());
    }
    List<EchoResponse> streamed = new ArrayList<>();
    stub.withDeadlineAfter(5, TimeUnit.SECONDS).expand(EchoRequest.newBuilder()
        .setMessage("s").setResponseCount(50).setResponseSize(1000).build())
        .forEachRemaining(streamed::add);
    assertEquals(50, streamed.size(), "the primary's stream, whole");
    Await.until("the mirror got every copy", Duration.ofSeconds(10),
        () -> shadow.callsStarted() == 6);
    assertEquals(6, primary.callsStarted());
    assertEquals(6, (int) Metrics.scrape(gateway.gateway().adminPort()).sum(
        "meshgate_mirror_calls_total", "route", "mirrored", "result", "sent"));
  }

  @Test
  void aMirrorThatNeverAnswersCostsThePrimaryNothing() throws Exception {
    backend();
    int primaryPort = lastPort;
    // Takes connections and never speaks HTTP/2: mirrored calls wait there until cancelled.
    ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    List<Socket> held = new ArrayList<>();
    Thread acceptor = new Thread(() -> {
      try {
        while (true) {
          held.add(silent.accept());
        }
      } catch (java.io.IOException closed) {
        // the test is over
      }
    });
    acceptor.setDaemon(true);
    acceptor.start();
    closing.add(silent::close);
    TestGateway gateway = gateway(primaryPort, silent.getLocalPort(), 2);
    var stub = client(gateway);
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      calls.add(CompletableFuture.supplyAsync(() -> stub.withDeadlineAfter(5, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("p").build())));
    }
    for (CompletableFuture<EchoResponse> call : calls) {
      assertEquals("p", call.get(10, TimeUnit.SECONDS).getMessage());
    }
    Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
    assertEquals(2, (int) metrics.sum("meshgate_mirror_calls_total", "result", "sent"),
        "two copies in flight at most");
    assertEquals(3, (int) metrics.sum("meshgate_mirror_calls_total", "result", "dropped"));
  }
}
