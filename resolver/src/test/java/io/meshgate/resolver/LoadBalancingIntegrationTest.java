package io.meshgate.resolver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.meshgate.resolver.internal.DiscoveryMetrics;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Each policy steering real calls to real backends found through a real etcd: what the
 * distribution looks like, and how it follows the registry, health and failures.
 */
class LoadBalancingIntegrationTest {
  private EtcdCluster etcd;
  private Client client;
  private final List<TestBackend> backends = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private String service;

  @BeforeEach
  void start(TestInfo info) {
    etcd = EtcdCluster.start(1);
    client = etcd.client();
    service = info.getTestMethod().orElseThrow().getName();
  }

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (TestBackend backend : backends) {
      backend.close();
    }
    etcd.close();
  }

  private TestBackend backend() {
    TestBackend backend = new TestBackend();
    backends.add(backend);
    return backend;
  }

  /** Registers (or re-registers with new metadata) a backend, without a lease. */
  private void register(TestBackend backend, int weight, String zone) throws Exception {
    String value = "{\"Op\":0,\"Addr\":\"127.0.0.1:" + backend.port() + "\",\"Metadata\":{"
        + "\"weight\":" + weight + (zone == null ? "" : ",\"zone\":\"" + zone + "\"") + "}}";
    client.getKVClient().put(bytes(service + "/" + backend.port()), bytes(value))
        .get(10, TimeUnit.SECONDS);
  }

  private void deregister(TestBackend backend) throws Exception {
    client.getKVClient().delete(bytes(service + "/" + backend.port())).get(10, TimeUnit.SECONDS);
  }

  private static ByteSequence bytes(String text) {
    return ByteSequence.from(text, StandardCharsets.UTF_8);
  }

  /** A channel to the service with a service config (JSON). */
  private ManagedChannel channel(String serviceConfigJson) {
    @SuppressWarnings("unchecked")
    Map<String, ?> config = new Gson().fromJson(serviceConfigJson, Map.class);
    ManagedChannel channel = Grpc.newChannelBuilder("etcd://" + etcd.authority() + "/" + service,
            InsecureChannelCredentials.create())
        .defaultServiceConfig(config)
        .build();
    channels.add(channel);
    return channel;
  }

  private static Map<Integer, Integer> distribution(ManagedChannel channel, int calls) {
    Map<Integer, Integer> counts = new HashMap<>();
    for (int i = 0; i < calls; i++) {
      counts.merge(TestBackend.hit(channel), 1, Integer::sum);
    }
    return counts;
  }

  /** Waits until the channel spreads calls over exactly these backends. */
  private static void awaitServedBy(ManagedChannel channel, TestBackend... expected) {
    Set<Integer> ports = new java.util.TreeSet<>();
    for (TestBackend backend : expected) {
      ports.add(backend.port());
    }
    // While the channel converges (an instance just crashed, say), a call may fail: not yet.
    Await.until("calls served by " + ports, Duration.ofSeconds(30), () -> {
      try {
        return distribution(channel, 4 * expected.length * 3).keySet();
      } catch (StatusRuntimeException e) {
        return Set.<Integer>of();
      }
    }, ports::equals);
  }

  @Test
  void weightedRoundRobinFollowsRegistryWeightsLive() throws Exception {
    TestBackend a = backend();
    TestBackend b = backend();
    TestBackend c = backend();
    register(a, 1, null);
    register(b, 2, null);
    register(c, 5, null);
    ManagedChannel channel =
        channel("{\"loadBalancingConfig\":[{\"meshgate_weighted_round_robin\":{}}]}");
    awaitServedBy(channel, a, b, c);
    Map<Integer, Integer> counts = distribution(channel, 800);
    assertEquals(100, counts.get(a.port()), 3.0, counts.toString());
    assertEquals(200, counts.get(b.port()), 3.0, counts.toString());
    assertEquals(500, counts.get(c.port()), 3.0, counts.toString());

    register(c, 1, null);
    Await.until("the new weights", Duration.ofSeconds(30),
        () -> distribution(channel, 40).get(c.port()), n -> n != null && n <= 12);
    counts = distribution(channel, 400);
    assertEquals(100, counts.get(a.port()), 3.0, counts.toString());
    assertEquals(200, counts.get(b.port()), 3.0, counts.toString());
    assertEquals(100, counts.get(c.port()), 3.0, counts.toString());
  }

  @Test
  void instancesAppearingAndDisappearingReachTraffic() throws Exception {
    TestBackend a = backend();
    TestBackend b = backend();
    register(a, 1, null);
    ManagedChannel channel =
        channel("{\"loadBalancingConfig\":[{\"meshgate_weighted_round_robin\":{}}]}");
    awaitServedBy(channel, a);
    register(b, 1, null);
    awaitServedBy(channel, a, b);
    deregister(a);
    awaitServedBy(channel, b);
    // Calls made now never touch the removed instance.
    int before = a.hits.get();
    distribution(channel, 50);
    assertEquals(before, a.hits.get());
  }

  @Test
  void leastRequestSteersAwayFromASlowBackend() throws Exception {
    TestBackend slow = backend();
    TestBackend fast = backend();
    slow.delayMillis = 200;
    register(slow, 1, null);
    register(fast, 1, null);
    ManagedChannel channel =
        channel("{\"loadBalancingConfig\":[{\"meshgate_least_request\":{}}]}");
    awaitServedBy(channel, slow, fast);
    int slowBefore = slow.hits.get();
    int fastBefore = fast.hits.get();
    // 20 callers, each making calls one after another for 300 calls in all.
    List<CompletableFuture<Void>> callers = new ArrayList<>();
    for (int c = 0; c < 20; c++) {
      callers.add(CompletableFuture.runAsync(() -> {
        for (int i = 0; i < 15; i++) {
          TestBackend.hit(channel);
        }
      }));
    }
    CompletableFuture.allOf(callers.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
    int toSlow = slow.hits.get() - slowBefore;
    int toFast = fast.hits.get() - fastBefore;
    assertEquals(300, toSlow + toFast);
    assertTrue(toFast > 4 * toSlow, "slow got " + toSlow + ", fast got " + toFast);
  }

  @Test
  void ringHashKeepsUsersOnTheirInstanceAndMovesAboutAQuarterForAFourth() throws Exception {
    TestBackend a = backend();
    TestBackend b = backend();
    TestBackend c = backend();
    register(a, 1, null);
    register(b, 1, null);
    register(c, 1, null);
    ManagedChannel channel = channel("{\"loadBalancingConfig\":[{\"meshgate_ring_hash\":"
        + "{\"hashHeader\":\"x-user\"}}]}");
    awaitServedBy(channel, a, b, c);
    Map<String, Integer> home = new HashMap<>();
    for (int user = 0; user < 300; user++) {
      Metadata headers = user(user);
      int first = TestBackend.hit(channel, headers);
      assertEquals(first, TestBackend.hit(channel, headers), "user " + user + " moved");
      home.put("u" + user, first);
    }
    assertEquals(3, Set.copyOf(home.values()).size());

    TestBackend d = backend();
    register(d, 1, null);
    Await.until("the fourth instance gets users", Duration.ofSeconds(30), () -> {
      for (int user = 0; user < 300; user++) {
        if (TestBackend.hit(channel, user(user)) == d.port()) {
          return true;
        }
      }
      return false;
    });
    int moved = 0;
    for (int user = 0; user < 300; user++) {
      int now = TestBackend.hit(channel, user(user));
      if (now != home.get("u" + user)) {
        moved++;
        assertEquals(d.port(), now, "a user moved between two old instances");
      }
    }
    assertTrue(moved > 30 && moved < 120, moved + " of 300 users moved (expected ~75)");
  }

  private static Metadata user(int user) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-user", Metadata.ASCII_STRING_MARSHALLER), "user-" + user);
    return headers;
  }

  @Test
  void zonePreferenceKeepsTrafficLocalAndSpillsOver() throws Exception {
    TestBackend eu1 = backend();
    TestBackend eu2 = backend();
    TestBackend us1 = backend();
    TestBackend us2 = backend();
    register(eu1, 1, "eu-1");
    register(eu2, 1, "eu-1");
    register(us1, 1, "us-1");
    register(us2, 1, "us-1");
    ManagedChannel channel = channel("{\"loadBalancingConfig\":[{\"meshgate_zone_aware\":"
        + "{\"localZone\":\"eu-1\"}}]}");
    awaitServedBy(channel, eu1, eu2);
    eu1.kill();
    eu2.kill();
    awaitServedBy(channel, us1, us2);
  }

  @Test
  void failingInstanceIsEjectedThenReturns() throws Exception {
    TestBackend a = backend();
    TestBackend b = backend();
    TestBackend bad = backend();
    register(a, 1, null);
    register(b, 1, null);
    register(bad, 1, null);
    ManagedChannel channel = channel("{\"loadBalancingConfig\":[{\"meshgate_weighted_round_robin"
        + "\":{\"outlierDetection\":{\"failurePercent\":50,\"minRequests\":5,"
        + "\"baseEjectionTime\":\"2s\",\"maxEjectionPercent\":50}}}]}");
    awaitServedBy(channel, a, b, bad);
    bad.failWith = Status.UNAVAILABLE.withDescription("broken");
    Await.until("the failing instance is ejected", Duration.ofSeconds(30), () -> {
      int failures = 0;
      for (int i = 0; i < 30; i++) {
        try {
          TestBackend.hit(channel);
        } catch (StatusRuntimeException e) {
          failures++;
        }
      }
      return failures == 0;
    });
    bad.failWith = null;
    awaitServedBy(channel, a, b, bad);
  }

  @Test
  void healthCheckingKeepsCallsOffANotServingInstance() throws Exception {
    TestBackend a = backend();
    TestBackend b = backend();
    register(a, 1, null);
    register(b, 1, null);
    ManagedChannel channel = channel("{\"loadBalancingConfig\":[{\"meshgate_least_request\":{}}],"
        + "\"healthCheckConfig\":{\"serviceName\":\"\"}}");
    awaitServedBy(channel, a, b);
    b.serving(false);
    awaitServedBy(channel, a);
    b.serving(true);
    awaitServedBy(channel, a, b);
  }

  @Test
  void trafficKeepsFlowingWhileEtcdIsDownAndFollowsItWhenItIsBack() throws Exception {
    TestBackend a = backend();
    TestBackend b = backend();
    register(a, 1, null);
    ManagedChannel channel =
        channel("{\"loadBalancingConfig\":[{\"meshgate_weighted_round_robin\":{}}]}");
    awaitServedBy(channel, a);
    etcd.stop(0);
    // Long enough for the resolver to notice, list again, fail and back off a few times.
    long unreachable = DiscoveryMetrics.unreachableResolvers();
    Await.until("the resolver notices etcd is gone", Duration.ofSeconds(30),
        () -> DiscoveryMetrics.unreachableResolvers() > unreachable
            || DiscoveryMetrics.listFailures() > 0);
    assertEquals(Map.of(a.port(), 100), distribution(channel, 100));
    etcd.restart(0);
    register(b, 1, null);
    awaitServedBy(channel, a, b);
  }

  @Test
  void unaryCallsSucceedThroughAChannelWithoutServiceConfigToo() throws Exception {
    TestBackend a = backend();
    register(a, 1, null);
    ManagedChannel channel = Grpc.newChannelBuilder("etcd://" + etcd.authority() + "/" + service,
        InsecureChannelCredentials.create())
        .defaultLoadBalancingPolicy("meshgate_least_request").build();
    channels.add(channel);
    assertEquals(a.port(), ClientCalls.blockingUnaryCall(channel, TestBackend.HIT,
        CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(20, TimeUnit.SECONDS),
        com.google.protobuf.Empty.getDefaultInstance()).getValue());
  }
}
