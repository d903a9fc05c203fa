package io.meshgate.gateway.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Intervals per route and cluster: counts, errors, quantiles, the ring, idle series dropped. */
class TrafficHistoryTest {
  @Test
  void anIntervalHoldsItsCallsErrorsAndQuantiles() {
    TrafficHistory history = new TrafficHistory();
    for (int i = 0; i < 98; i++) {
      history.record("users", "users-cluster", Status.Code.OK, 1_000_000); // 1 ms
    }
    history.record("users", "users-cluster", Status.Code.UNAVAILABLE, 1_000_000);
    history.record("users", "users-cluster", Status.Code.OK, 500_000_000); // 500 ms
    history.sample(5_000);
    Map<String, List<TrafficHistory.Sample>> snapshot = history.snapshot();
    TrafficHistory.Sample route = snapshot.get("route:users").get(0);
    assertEquals(100, route.calls());
    assertEquals(1, route.errors());
    assertTrue(route.p50Millis() >= 1 && route.p50Millis() <= 1.5, "p50 " + route.p50Millis());
    assertTrue(route.p99Millis() >= 1 && route.p99Millis() <= 1.5, "p99 " + route.p99Millis());
    assertEquals(100, snapshot.get("cluster:users-cluster").get(0).calls());
    history.record("users", "users-cluster", Status.Code.OK, 500_000_000);
    history.sample(10_000);
    TrafficHistory.Sample slow = history.snapshot().get("route:users").get(1);
    assertTrue(slow.p99Millis() >= 500 && slow.p99Millis() <= 750, "p99 " + slow.p99Millis());
  }

  @Test
  void theRingKeepsFifteenMinutesAndIdleSeriesAreDropped() {
    TrafficHistory history = new TrafficHistory();
    history.record("gone", null, Status.Code.OK, 1_000);
    history.record("kept", null, Status.Code.OK, 1_000);
    for (int i = 1; i <= TrafficHistory.SLOTS + 10; i++) {
      history.record("kept", null, Status.Code.OK, 1_000);
      history.sample(i * TrafficHistory.INTERVAL_MILLIS);
    }
    Map<String, List<TrafficHistory.Sample>> snapshot = history.snapshot();
    assertEquals(TrafficHistory.SLOTS, snapshot.get("route:kept").size());
    assertEquals((TrafficHistory.SLOTS + 10) * TrafficHistory.INTERVAL_MILLIS,
        snapshot.get("route:kept").get(TrafficHistory.SLOTS - 1).endMillis(), "newest last");
    assertTrue(!snapshot.containsKey("route:gone"), "no calls for 15 minutes: dropped");
  }

  @Test
  void bucketsCoverMicrosecondsToMinutes() {
    assertEquals(0, TrafficHistory.bucket(500));
    assertTrue(TrafficHistory.upperMillis(TrafficHistory.bucket(3_000_000)) >= 3.0);
    assertTrue(TrafficHistory.upperMillis(TrafficHistory.bucket(60_000_000_000L)) >= 60_000);
  }
}
