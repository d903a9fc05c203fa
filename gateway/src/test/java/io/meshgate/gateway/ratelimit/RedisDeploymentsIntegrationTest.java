package io.meshgate.gateway.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.RedisServer;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.TestCa;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Global limits in the Redis deployments besides one plain server: through a real Sentinel that
 * names the master, and over TLS with a client certificate to a redis-server that requires one;
 * a gateway that cannot trust the server counts store errors and keeps serving.
 */
@Timeout(90)
class RedisDeploymentsIntegrationTest {
  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static Server backend;
  private static TestCa ca;
  private final List<AutoCloseable> closing = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("limited", scheduler)).build().start();
    ca = TestCa.create("redis-ca", dir);
  }

  @AfterAll
  static void stop() throws Exception {
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T resource) {
    closing.add(resource);
    return resource;
  }

  private TestGateway gateway(String redis, String onFailure) throws Exception {
    return closing(TestGateway.start("""
        ratelimit:
          redis: %s
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - name: limited
            match: {servicePrefix: ""}
            cluster: echo
            rateLimits: [{key: route, rate: 1/s, burst: 3, scope: global, timeout: 2s,
                          onStoreFailure: %s}]
        """.formatted(redis, backend.getPort(), onFailure)));
  }

  /** The codes of {@code n} calls in a row. */
  private List<Status.Code> calls(TestGateway gateway, int n) {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext()
        .build();
    closing(channel::shutdownNow);
    List<Status.Code> codes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      try {
        EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("x").build());
        codes.add(Status.Code.OK);
      } catch (StatusRuntimeException e) {
        assertTrue(e.getStatus().getDescription().contains("across the gateways"),
            e.getStatus().getDescription());
        codes.add(e.getStatus().getCode());
      }
    }
    return codes;
  }

  private static long count(List<Status.Code> codes, Status.Code code) {
    return codes.stream().filter(code::equals).count();
  }

  private static double storeErrors(TestGateway gateway) throws Exception {
    return Metrics.scrape(gateway.gateway().adminPort()).sum(
        "meshgate_ratelimit_store_errors_total");
  }

  @Test
  void aSentinelNamesTheMasterTheLimitCountsIn() throws Exception {
    RedisServer master = closing(RedisServer.start());
    RedisServer sentinel = closing(RedisServer.startSentinel("limits", master));
    TestGateway gateway = gateway("{addresses: [\"" + sentinel.address() + "\"],"
        + " sentinel: {masterName: limits}, keyPrefix: \"s:\"}", "allow");
    // burst 3 at 1/s: of 8 calls in a row, 3 (or 4, should a second pass) are admitted — the
    // store decided, or with onStoreFailure: allow all 8 would be.
    List<Status.Code> codes = calls(gateway, 8);
    assertTrue(count(codes, Status.Code.OK) >= 3 && count(codes, Status.Code.OK) <= 4,
        codes.toString());
    assertEquals(8, codes.size());
    assertEquals(0, storeErrors(gateway), 0.0);
  }

  @Test
  void overTlsWithAClientCertificate() throws Exception {
    TestCa.Issued server = ca.issue("redis", "localhost", "127.0.0.1");
    TestCa.Issued client = ca.issue("gateway", "gateway.test");
    RedisServer redis = closing(RedisServer.startTls(server.certFile(), server.keyFile(),
        ca.caFile(), true));
    TestGateway gateway = gateway("{addresses: [\"" + redis.address() + "\"], tls: {caFile: \""
        + ca.caFile() + "\", certFile: \"" + client.certFile() + "\", keyFile: \""
        + client.keyFile() + "\"}}", "allow");
    List<Status.Code> codes = calls(gateway, 8);
    assertTrue(count(codes, Status.Code.OK) >= 3 && count(codes, Status.Code.OK) <= 4,
        codes.toString());
    assertEquals(0, storeErrors(gateway), 0.0);

    // A gateway that does not trust the server's CA gets no store: it counts the errors and,
    // with onStoreFailure: allow, keeps serving every call.
    TestCa stranger = TestCa.create("stranger-ca", dir);
    TestGateway untrusting = gateway("{addresses: [\"" + redis.address() + "\"], tls: {caFile:"
        + " \"" + stranger.caFile() + "\", certFile: \"" + client.certFile() + "\", keyFile: \""
        + client.keyFile() + "\"}}", "allow");
    assertEquals(8, count(calls(untrusting, 8), Status.Code.OK));
    assertTrue(storeErrors(untrusting) >= 1);
  }
}
