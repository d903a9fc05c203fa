package io.meshgate.gateway.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.CallLoad;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.RedisServer;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code scope: global} rate limits counted in a real {@code redis-server}: two gateways share
 * one limit; with Redis killed each {@code onStoreFailure} mode does what it says and global
 * counting resumes when Redis is back; a paused Redis costs a call no more than the rule's
 * timeout.
 */
class GlobalRateLimitIntegrationTest {
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static RedisServer redis;
  private static Server backend;
  private final List<TestGateway> gateways = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    redis = RedisServer.start();
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("limited", scheduler)).build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    redis.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  @AfterEach
  void closeGateways() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    for (TestGateway gateway : gateways) {
      gateway.close();
    }
    if (!redis.answersPing()) {
      redis.restart();
    }
  }

  private TestGateway gateway(String rule, String prefix) throws Exception {
    TestGateway gateway = TestGateway.start("""
        ratelimit:
          redis: {addresses: ["%s"], keyPrefix: "%s"}
          fleetSize: 2
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - name: limited
            match: {servicePrefix: ""}
            cluster: echo
            rateLimits: [%s]
        """.formatted(redis.address(), prefix, backend.getPort(), rule));
    gateways.add(gateway);
    return gateway;
  }

  private EchoServiceGrpc.EchoServiceBlockingStub client(TestGateway gateway) {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext()
        .build();
    channels.add(channel);
    return EchoServiceGrpc.newBlockingStub(channel);
  }

  private static void echo(EchoServiceGrpc.EchoServiceBlockingStub stub) {
    stub.withDeadlineAfter(5, TimeUnit.SECONDS).echo(EchoRequest.newBuilder()
        .setMessage("x").build());
  }

  private static Status.Code code(Runnable call) {
    try {
      call.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void twoGatewaysShareOneLimit() throws Exception {
    String rule = "{key: route, rate: 200/s, burst: 20, scope: global, timeout: 200ms}";
    String prefix = "shared-" + System.nanoTime() + ":";
    var a = client(gateway(rule, prefix));
    var b = client(gateway(rule, prefix));
    // Connected and warm before the clock starts: a bucket that nobody draws from stays full
    // (at its burst) and would not count the time.
    code(() -> echo(a));
    code(() -> echo(b));
    var fromA = a;
    long started = System.nanoTime();
    try (CallLoad loadA = CallLoad.start(3, 50_000, () -> echo(fromA));
        CallLoad loadB = CallLoad.start(3, 50_000, () -> echo(b))) {
      Await.until("10 s of load from both gateways' clients", Duration.ofSeconds(40),
          () -> System.nanoTime() - started > TimeUnit.SECONDS.toNanos(10));
      loadA.close();
      loadB.close();
      double seconds = (System.nanoTime() - started) / 1e9;
      long admitted = loadA.succeeded() + loadB.succeeded();
      // What the bucket refilled in that time, plus what it held at the start (up to 20).
      double least = 200 * seconds;
      double most = 200 * seconds + 20;
      System.out.printf("global limit 200/s burst 20 over %.1f s across two gateways: %d admitted"
          + " (expected %.0f to %.0f), %d + %d refused, %d / %d admitted by each%n", seconds,
          admitted, least, most, loadA.failures().size(), loadB.failures().size(),
          loadA.succeeded(), loadB.succeeded());
      assertTrue(admitted >= least * 0.9 && admitted <= most * 1.1, admitted + " admitted,"
          + " expected " + least + " to " + most + " ± 10%");
      assertTrue(loadA.succeeded() > 0 && loadB.succeeded() > 0, "both gateways admit");
      assertTrue(loadA.failures().stream().allMatch(f -> f.contains("RESOURCE_EXHAUSTED")
          && f.contains("across the gateways")), loadA.failures().get(0));
    }
  }

  @Test
  void withRedisDownEachModeDoesWhatItSaysAndCountingResumes() throws Exception {
    String prefix = "modes-" + System.nanoTime() + ":";
    // Timeouts generous enough for a loaded CI machine: here Redis is up or dead, not slow.
    TestGateway allowing = gateway("{key: route, rate: 1/h, burst: 2, scope: global,"
        + " onStoreFailure: allow, timeout: 1s}", prefix + "allow:");
    TestGateway denying = gateway("{key: route, rate: 100/s, burst: 100, scope: global,"
        + " onStoreFailure: deny, timeout: 1s}", prefix + "deny:");
    TestGateway local = gateway("{key: route, rate: 1/h, burst: 6, scope: global,"
        + " onStoreFailure: local, timeout: 1s}", prefix + "local:");
    var allow = client(allowing);
    var deny = client(denying);
    var fallback = client(local);
    // With Redis up: the 1/h limits give their burst, then refuse.
    assertEquals(List.of(Status.Code.OK, Status.Code.OK),
        List.of(code(() -> echo(allow)), code(() -> echo(allow))));
    StatusRuntimeException spent = org.junit.jupiter.api.Assertions.assertThrows(
        StatusRuntimeException.class, () -> echo(allow));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, spent.getStatus().getCode());
    com.google.rpc.Status details = io.grpc.protobuf.StatusProto.fromThrowable(spent);
    assertTrue(details != null && details.getDetails(0).is(com.google.rpc.RetryInfo.class),
        "a RetryInfo for the client, as local limits give");
    assertEquals(Status.Code.OK, code(() -> echo(deny)));

    redis.kill();
    for (int i = 0; i < 5; i++) {
      assertEquals(Status.Code.OK, code(() -> echo(allow)), "allow admits while Redis is down");
    }
    StatusRuntimeException denied = org.junit.jupiter.api.Assertions.assertThrows(
        StatusRuntimeException.class, () -> echo(deny));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, denied.getStatus().getCode());
    assertTrue(denied.getStatus().getDescription().contains("cannot be counted"),
        denied.getStatus().getDescription());
    // local: a bucket of this gateway at the fleet's share, burst 6 / fleet size 2 = 3.
    List<Status.Code> locally = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      locally.add(code(() -> echo(fallback)));
    }
    assertEquals(List.of(Status.Code.OK, Status.Code.OK, Status.Code.OK,
        Status.Code.RESOURCE_EXHAUSTED), locally);
    assertTrue(Metrics.scrape(allowing.gateway().adminPort()).sum(
        "meshgate_ratelimit_store_errors_total", "route", "limited") >= 5);

    redis.restart(); // empty: the buckets start full again
    Await.until("global counting to resume (allow's bucket of 2 spent, then refused)",
        Duration.ofSeconds(60), () -> code(() -> echo(allow)) == Status.Code.RESOURCE_EXHAUSTED);
  }

  @Test
  void aPausedRedisCostsACallNoMoreThanTheTimeout() throws Exception {
    var allow = client(gateway("{key: route, rate: 1000/s, burst: 1000, scope: global,"
        + " onStoreFailure: allow, timeout: 50ms}", "paused-" + System.nanoTime() + ":"));
    assertEquals(Status.Code.OK, code(() -> echo(allow)));
    redis.pause();
    try {
      long started = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        assertEquals(Status.Code.OK, code(() -> allow.withDeadlineAfter(2, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("y").build())));
      }
      System.out.printf("5 calls with Redis paused took %d ms in all (rule timeout 50 ms)%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      assertTrue(Metrics.scrape(gateways.get(0).gateway().adminPort()).sum(
          "meshgate_ratelimit_store_errors_total", "reason", "timeout") >= 5);
    } finally {
      redis.resume();
    }
  }
}
