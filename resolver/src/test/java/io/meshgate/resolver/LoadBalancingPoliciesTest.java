package io.meshgate.resolver;

import static io.meshgate.resolver.FakeHelper.instance;
import static io.meshgate.resolver.FakeHelper.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerRegistry;
import io.grpc.Metadata;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The policies' pickers, driven through a fake channel and a fake clock: no sockets, no sleeps. */
class LoadBalancingPoliciesTest {
  private final FakeHelper helper = new FakeHelper();

  private static PolicyConfig config(String policy, Map<String, ?> json) {
    ConfigOrError parsed = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy)
        .parseLoadBalancingPolicyConfig(json);
    assertNotNull(parsed.getConfig(), String.valueOf(parsed.getError()));
    return (PolicyConfig) parsed.getConfig();
  }

  private void allReady(int... ports) {
    for (int port : ports) {
      helper.subchannel(port).set(ConnectivityState.READY);
    }
  }

  private List<Integer> picks(int n) {
    List<Integer> picks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      picks.add(helper.pick());
    }
    return picks;
  }

  // ---- Weighted round robin ------------------------------------------------------------------

  @Test
  void weightedRoundRobinIsSmoothLikeNginx() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_weighted_round_robin", Map.of()),
        instance(1, 5, null), instance(2, 1, null), instance(3, 1, null));
    allReady(1, 2, 3);
    assertEquals(ConnectivityState.READY, helper.state);
    // nginx's documented sequence for weights 5,1,1.
    assertEquals(List.of(1, 1, 2, 1, 3, 1, 1, 1, 1, 2, 1, 3, 1, 1), picks(14));
  }

  @Test
  void weightChangesTakeEffectWithoutResettingTheRotation() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    PolicyConfig config = config("meshgate_weighted_round_robin", Map.of());
    helper.resolve(lb, null, config, instance(1, 1, null), instance(2, 1, null));
    allReady(1, 2);
    assertEquals(List.of(1, 2, 1, 2), picks(4));
    helper.resolve(lb, null, config, instance(1, 3, null), instance(2, 1, null));
    assertEquals(2, helper.subchannels.size(), "a weight change reconnected an instance");
    Map<Integer, Integer> counts = new HashMap<>();
    picks(400).forEach(p -> counts.merge(p, 1, Integer::sum));
    assertEquals(300, counts.get(1));
    assertEquals(100, counts.get(2));
  }

  @Test
  void onlyReadyInstancesArePicked() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_weighted_round_robin", Map.of()),
        instance(1, 1, null), instance(2, 1, null), instance(3, 1, null));
    assertEquals(ConnectivityState.CONNECTING, helper.state);
    assertEquals(-1, helper.pick(), "a pick went out before any instance was ready");
    allReady(2);
    assertEquals(List.of(2, 2, 2), picks(3));
    helper.subchannel(1).set(ConnectivityState.CONNECTING);
    helper.subchannel(3).set(ConnectivityState.TRANSIENT_FAILURE);
    assertEquals(List.of(2, 2, 2), picks(3));
    allReady(3);
    assertEquals(Set.of(2, 3), Set.copyOf(picks(10)));
  }

  @Test
  void idleInstancesAreReconnectedAndFailuresRefreshTheResolver() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_weighted_round_robin", Map.of()),
        instance(1, 1, null));
    FakeHelper.FakeSubchannel subchannel = helper.subchannel(1);
    int requests = subchannel.connectionRequests;
    subchannel.set(ConnectivityState.IDLE);
    assertEquals(requests + 1, subchannel.connectionRequests);
    subchannel.set(ConnectivityState.TRANSIENT_FAILURE);
    assertEquals(ConnectivityState.TRANSIENT_FAILURE, helper.state);
    assertEquals(1, helper.refreshes);
    LoadBalancer.PickResult failed = helper.picker.pickSubchannel(null);
    assertEquals(Status.Code.UNAVAILABLE, failed.getStatus().getCode());
    assertTrue(failed.getStatus().getDescription().contains("connection refused"),
        failed.getStatus().toString());
  }

  @Test
  void removedInstancesAreShutDownAfterTheNewPicker() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    PolicyConfig config = config("meshgate_weighted_round_robin", Map.of());
    helper.resolve(lb, null, config, instance(1, 1, null), instance(2, 1, null));
    allReady(1, 2);
    FakeHelper.FakeSubchannel one = helper.subchannel(1);
    helper.resolve(lb, null, config, instance(2, 1, null));
    assertTrue(one.shutdown);
    assertEquals(List.of(2, 2), picks(2));
  }

  // ---- Least request -------------------------------------------------------------------------

  @Test
  void leastRequestPrefersTheInstanceWithFewerCallsInFlight() {
    int[] draws = {0, 1};
    int[] next = {0};
    LoadBalancer lb = new LeastRequestLoadBalancer(helper, helper.clock::nanoTime,
        bound -> draws[next[0]++ % draws.length] % bound);
    helper.resolve(lb, null, config("meshgate_least_request", Map.of()),
        instance(1, 1, null), instance(2, 1, null));
    allReady(1, 2);
    // Start three calls on instance 1 (draws compare 1 and 2; ties keep the first).
    List<io.grpc.ClientStreamTracer> inFlight = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      LoadBalancer.PickResult result = helper.picker.pickSubchannel(null);
      inFlight.add(result.getStreamTracerFactory().newClientStreamTracer(
          io.grpc.ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata()));
      if (i == 0) {
        assertEquals(1, ((FakeHelper.FakeSubchannel) result.getSubchannel()).port());
      }
    }
    // Instance 1 had one call in flight after the first pick, so the later picks went to 2...
    assertEquals(2, helper.pick());
    // ...and once the calls end, the balance returns.
    inFlight.forEach(t -> t.streamClosed(Status.OK));
    assertEquals(1, helper.pick());
  }

  @Test
  void leastRequestWeighsCallsInFlightByInstanceWeight() {
    int[] draws = {0, 1};
    int[] next = {0};
    LoadBalancer lb = new LeastRequestLoadBalancer(helper, helper.clock::nanoTime,
        bound -> draws[next[0]++ % draws.length] % bound);
    helper.resolve(lb, null, config("meshgate_least_request", Map.of("choiceCount", 2.0)),
        instance(1, 4, null), instance(2, 1, null));
    allReady(1, 2);
    Map<Integer, Integer> counts = new HashMap<>();
    for (int i = 0; i < 50; i++) {
      LoadBalancer.PickResult result = helper.picker.pickSubchannel(null);
      result.getStreamTracerFactory().newClientStreamTracer(
          io.grpc.ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
      counts.merge(((FakeHelper.FakeSubchannel) result.getSubchannel()).port(), 1, Integer::sum);
    }
    // Calls held open pile up 4:1, in proportion to the weights.
    assertEquals(40, counts.get(1));
    assertEquals(10, counts.get(2));
  }

  @Test
  void leastRequestComparesDistinctInstances() {
    // A random source that always says 0 would compare an instance with itself if drawing with
    // replacement; drawn without, both instances are compared every time.
    LoadBalancer lb = new LeastRequestLoadBalancer(helper, helper.clock::nanoTime, bound -> 0);
    helper.resolve(lb, null, config("meshgate_least_request", Map.of()),
        instance(1, 1, null), instance(2, 1, null));
    allReady(1, 2);
    LoadBalancer.PickResult first = helper.picker.pickSubchannel(null);
    first.getStreamTracerFactory().newClientStreamTracer(
        io.grpc.ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
    assertEquals(1, ((FakeHelper.FakeSubchannel) first.getSubchannel()).port());
    assertEquals(2, helper.pick(), "instance 1 has a call in flight, 2 has none");
  }

  // ---- Ring hash -----------------------------------------------------------------------------

  private static Metadata key(String value) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-user", Metadata.ASCII_STRING_MARSHALLER), value);
    return headers;
  }

  @Test
  void ringHashKeepsEachKeyOnOneInstance() {
    LoadBalancer lb = new RingHashLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_ring_hash", json("hashHeader", "X-User")),
        instance(1, 1, null), instance(2, 1, null), instance(3, 1, null));
    allReady(1, 2, 3);
    Map<Integer, Integer> spread = new HashMap<>();
    for (int user = 0; user < 3000; user++) {
      int first = helper.pick(key("user-" + user));
      for (int again = 0; again < 3; again++) {
        assertEquals(first, helper.pick(key("user-" + user)));
      }
      spread.merge(first, 1, Integer::sum);
    }
    for (int count : spread.values()) {
      assertTrue(count > 700 && count < 1300, "uneven ring: " + spread);
    }
  }

  @Test
  void ringHashMovesAboutOneNthOfTheKeysWhenAnInstanceJoins() {
    LoadBalancer lb = new RingHashLoadBalancer(helper, helper.clock::nanoTime);
    PolicyConfig config = config("meshgate_ring_hash", json("hashHeader", "x-user"));
    helper.resolve(lb, null, config, instance(1, 1, null), instance(2, 1, null),
        instance(3, 1, null), instance(4, 1, null));
    allReady(1, 2, 3, 4);
    int keys = 10_000;
    int[] before = new int[keys];
    for (int i = 0; i < keys; i++) {
      before[i] = helper.pick(key("k" + i));
    }
    helper.resolve(lb, null, config, instance(1, 1, null), instance(2, 1, null),
        instance(3, 1, null), instance(4, 1, null), instance(5, 1, null));
    allReady(5);
    int moved = 0;
    for (int i = 0; i < keys; i++) {
      int after = helper.pick(key("k" + i));
      if (after != before[i]) {
        moved++;
        assertEquals(5, after, "a key moved between two old instances");
      }
    }
    double share = (double) moved / keys;
    assertTrue(share > 0.12 && share < 0.28, "moved " + share + " of the keys (expected ~1/5)");
  }

  @Test
  void ringHashLendsTheKeysOfAnInstanceThatIsNotReadyAndTakesThemBack() {
    LoadBalancer lb = new RingHashLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_ring_hash", json("hashHeader", "x-user")),
        instance(1, 1, null), instance(2, 1, null), instance(3, 1, null));
    allReady(1, 2, 3);
    String keyOfTwo = null;
    for (int i = 0; keyOfTwo == null; i++) {
      if (helper.pick(key("u" + i)) == 2) {
        keyOfTwo = "u" + i;
      }
    }
    helper.subchannel(2).set(ConnectivityState.TRANSIENT_FAILURE);
    int stand = helper.pick(key(keyOfTwo));
    assertNotEquals(2, stand);
    assertEquals(stand, helper.pick(key(keyOfTwo)), "the stand-in is not stable");
    helper.subchannel(2).set(ConnectivityState.READY);
    assertEquals(2, helper.pick(key(keyOfTwo)));
  }

  @Test
  void ringHashGivesHeavierInstancesMoreKeys() {
    LoadBalancer lb = new RingHashLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_ring_hash", json("hashHeader", "x-user")),
        instance(1, 3, null), instance(2, 1, null));
    allReady(1, 2);
    int ones = 0;
    for (int i = 0; i < 4000; i++) {
      if (helper.pick(key("w" + i)) == 1) {
        ones++;
      }
    }
    assertTrue(ones > 2700 && ones < 3300, ones + " of 4000 keys on the weight-3 instance");
  }

  // ---- Zone preference -----------------------------------------------------------------------

  @Test
  void zonePreferenceKeepsTrafficLocalThenSpillsOver() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_zone_aware",
            json("localZone", "eu-1", "minLocalReadyPercent", 50.0)),
        instance(1, 1, "eu-1"), instance(2, 1, "eu-1"), instance(3, 1, "us-1"),
        instance(4, 1, "us-1"));
    allReady(1, 2, 3, 4);
    assertEquals(Set.of(1, 2), Set.copyOf(picks(20)));
    // One of two local instances down: 50% ready, still enough.
    helper.subchannel(1).set(ConnectivityState.TRANSIENT_FAILURE);
    assertEquals(Set.of(2), Set.copyOf(picks(20)));
    // None local: spill over.
    helper.subchannel(2).set(ConnectivityState.TRANSIENT_FAILURE);
    assertEquals(Set.of(3, 4), Set.copyOf(picks(20)));
    // Back home as soon as the zone is healthy enough again.
    helper.subchannel(1).set(ConnectivityState.READY);
    assertEquals(Set.of(1), Set.copyOf(picks(20)));
  }

  @Test
  void zoneAwarePolicyRefusesAConfigWithoutAZone() {
    ConfigOrError parsed = new ZoneAwareLoadBalancerProvider()
        .parseLoadBalancingPolicyConfig(Map.of());
    if (PolicyConfig.defaultZone() == null) {
      assertEquals(Status.Code.INVALID_ARGUMENT, parsed.getError().getCode());
      assertTrue(parsed.getError().getDescription().contains("localZone is required"));
    }
  }

  // ---- Outlier ejection ----------------------------------------------------------------------

  private static Map<String, ?> outliers() {
    return json("outlierDetection", json("failurePercent", 50.0, "minRequests", 10.0,
        "window", "10s", "baseEjectionTime", "30s", "maxEjectionTime", "300s",
        "maxEjectionPercent", 50.0));
  }

  @Test
  void failingInstanceIsEjectedAndReturnsAfterTheBackoff() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_weighted_round_robin", outliers()),
        instance(1, 1, null), instance(2, 1, null), instance(3, 1, null));
    allReady(1, 2, 3);
    // Instance 2 fails every call; the others succeed.
    for (int i = 0; i < 30; i++) {
      int port = helper.pick();
      assertTrue(port > 0);
      end(port == 2 ? Status.UNAVAILABLE : Status.OK, port);
    }
    assertEquals(Set.of(1, 3), Set.copyOf(picks(30)), "instance 2 was not ejected");
    helper.clock.forward(Duration.ofSeconds(29));
    assertEquals(Set.of(1, 3), Set.copyOf(picks(30)));
    helper.clock.forward(Duration.ofSeconds(1));
    assertEquals(Set.of(1, 2, 3), Set.copyOf(picks(30)), "instance 2 did not come back");
  }

  @Test
  void repeatedEjectionsLastLongerAndMaxEjectionPercentHolds() {
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_weighted_round_robin", outliers()),
        instance(1, 1, null), instance(2, 1, null), instance(3, 1, null));
    allReady(1, 2, 3);
    failUntilEjected(2);
    helper.clock.forward(Duration.ofSeconds(30));
    failUntilEjected(2);
    // Second ejection in a row: 60 s.
    helper.clock.forward(Duration.ofSeconds(45));
    assertEquals(Set.of(1, 3), Set.copyOf(picks(30)));
    helper.clock.forward(Duration.ofSeconds(15));
    assertTrue(Set.copyOf(picks(30)).contains(2));
    // With 2 ejected, a failing 3 may not be ejected too: 2 of 3 would exceed 50%.
    failUntilEjected(2);
    for (int i = 0; i < 50; i++) {
      helper.pickAndEnd(Status.UNAVAILABLE);
    }
    assertTrue(Set.copyOf(picks(30)).contains(3), "more than maxEjectionPercent ejected");
  }

  private void failUntilEjected(int port) {
    for (int i = 0; i < 200 && Set.copyOf(picks(6)).contains(port); i++) {
      for (int j = 0; j < 3; j++) {
        int picked = helper.pick();
        end(picked == port ? Status.UNAVAILABLE : Status.OK, picked);
      }
    }
    assertTrue(!Set.copyOf(picks(30)).contains(port), "instance " + port + " was not ejected");
  }

  /** Ends one call on the given instance with a status (picking until it comes up). */
  private void end(Status status, int port) {
    for (int i = 0; i < 100; i++) {
      LoadBalancer.PickResult result = helper.picker.pickSubchannel(null);
      if (((FakeHelper.FakeSubchannel) result.getSubchannel()).port() == port) {
        result.getStreamTracerFactory().newClientStreamTracer(
            io.grpc.ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata())
            .streamClosed(status);
        return;
      }
    }
  }

  // ---- Config --------------------------------------------------------------------------------

  @Test
  void badConfigsAreRejectedNamingTheKey() {
    Map<String, Map<String, ?>> bad = Map.of(
        "meshgate_least_request", json("choiceCount", 1.0),
        "meshgate_ring_hash", json("hashHeader", "data-bin"),
        "meshgate_weighted_round_robin", json("weights", 3.0));
    for (Map.Entry<String, Map<String, ?>> entry : bad.entrySet()) {
      ConfigOrError parsed = LoadBalancerRegistry.getDefaultRegistry()
          .getProvider(entry.getKey()).parseLoadBalancingPolicyConfig(entry.getValue());
      assertNotNull(parsed.getError(), entry.getKey());
      String key = entry.getValue().keySet().iterator().next();
      assertTrue(parsed.getError().getDescription().contains(key),
          parsed.getError().getDescription());
    }
    ConfigOrError od = LoadBalancerRegistry.getDefaultRegistry()
        .getProvider("meshgate_weighted_round_robin")
        .parseLoadBalancingPolicyConfig(json("outlierDetection", json("window", "10")));
    assertTrue(od.getError().getDescription().contains("window"), od.getError().toString());
  }
}
