package io.meshgate.gateway.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Canary releases through the gateway: a weighted split between a stable and a canary
 * cluster, a header that sends a call to the canary, and weights changed live.
 */
@Timeout(60)
class TrafficSplitIntegrationTest {
  private static SampleServer stable;
  private static SampleServer canary;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    stable = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    canary = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    gateway = TestGateway.start(routes(90, 10));
  }

  private static String routes(int stableWeight, int canaryWeight) {
    return """
        clusters:
          - {name: stable, endpoints: [127.0.0.1:%d]}
          - {name: canary, endpoints: [127.0.0.1:%d]}
        routes:
          - name: echo
            match: {service: meshgate.samples.echo.v1.EchoService}
            split: [{cluster: stable, weight: %d}, {cluster: canary, weight: %d}]
            canary: [{header: x-canary, value: "true", cluster: canary}]
        """.formatted(stable.port(), canary.port(), stableWeight, canaryWeight);
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (stable != null) {
      stable.close();
    }
    if (canary != null) {
      canary.close();
    }
  }

  /** Calls {@code n} times; counts answers per backend port. */
  private static Map<Integer, Integer> calls(int n, Map<String, String> headers) {
    Metadata extra = new Metadata();
    headers.forEach((k, v) -> extra.put(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER), v));
    ManagedChannel channel = gateway.channel();
    EchoServiceGrpc.EchoServiceBlockingStub stub = EchoServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(extra));
    Map<Integer, Integer> counts = new HashMap<>();
    for (int i = 0; i < n; i++) {
      String servedBy = stub.echo(EchoRequest.newBuilder().setMessage("m").build())
          .getServedBy();
      counts.merge(Integer.parseInt(servedBy.substring(servedBy.lastIndexOf(':') + 1)), 1,
          Integer::sum);
    }
    return counts;
  }

  @Test
  void weightsSplitTrafficAndAHeaderPicksTheCanary() throws Exception {
    Metrics before = Metrics.scrape(gateway.gateway().adminPort());
    Map<Integer, Integer> split = calls(2000, Map.of());
    int toCanary = split.getOrDefault(canary.port(), 0);
    // 10% of 2,000 is 200, standard deviation about 13: 140..260 is more than 4 of them.
    assertTrue(toCanary >= 140 && toCanary <= 260, "calls to the canary: " + toCanary);
    assertEquals(2000, toCanary + split.getOrDefault(stable.port(), 0));

    assertEquals(Map.of(canary.port(), 100), calls(100, Map.of("x-canary", "true")),
        "the header sends every call to the canary");
    Metrics after = Metrics.scrape(gateway.gateway().adminPort());
    assertEquals(toCanary + 100, after.sum("meshgate_requests_total", "route", "echo",
        "cluster", "canary") - before.sum("meshgate_requests_total", "route", "echo",
        "cluster", "canary"), "metrics label each call with the cluster it went to");
  }

  @Test
  void changedWeightsMoveTrafficAtOnce() throws Exception {
    gateway.gateway().apply(ConfigLoader.parse("test.yaml",
        "listener: {host: 127.0.0.1, port: 0, workerThreads: 2}\n"
            + "admin: {host: 127.0.0.1, port: 0}\n" + routes(0, 100), TestGateway.resources()));
    assertEquals(Map.of(canary.port(), 200), calls(200, Map.of()),
        "right after the swap, every call goes by the new weights");
    gateway.gateway().apply(ConfigLoader.parse("test.yaml",
        "listener: {host: 127.0.0.1, port: 0, workerThreads: 2}\n"
            + "admin: {host: 127.0.0.1, port: 0}\n" + routes(90, 10), TestGateway.resources()));
  }
}
