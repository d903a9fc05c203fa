package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.meshgate.testing.MovableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The breaker's states on clocks the test moves: no waiting, no sleeping. */
class ClusterCircuitBreakerTest {
  private final AtomicLong nanos = new AtomicLong();
  private final MovableClock clock = new MovableClock(Instant.parse("2026-11-24T12:00:00Z"));


  /** A call the test ends with a status of its choice. */
  static final class FakeCall extends ClientCall<String, String> {
    Listener<String> listener;
    boolean started;

    @Override
    public void start(Listener<String> listener, Metadata headers) {
      this.listener = listener;
      started = true;
    }

    void close(Status status) {
      listener.onClose(status, new Metadata());
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void cancel(String message, Throwable cause) {
      close(Status.CANCELLED.withDescription(message));
    }

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(String message) {}
  }

  /** What a caller's listener saw. */
  static final class Outcome extends ClientCall.Listener<String> {
    Status status;

    @Override
    public void onClose(Status status, Metadata trailers) {
      this.status = status;
    }
  }

  private ClusterCircuitBreaker breaker(Duration slowCall) {
    return new ClusterCircuitBreaker("orders", new GatewayConfig.CircuitBreaker(50, 50, slowCall,
        false, 4, 4, Duration.ofSeconds(30), 2,
        Set.of(Status.Code.UNAVAILABLE, Status.Code.INTERNAL)), clock, nanos::get,
        new GatewayMetrics(GatewayConfig.Metrics.defaults()));
  }

  /** Runs one call through the breaker; returns the fake (null when refused) and the outcome. */
  private FakeCall call(ClusterCircuitBreaker breaker, Status result, long durationMillis,
      Outcome outcome) {
    FakeCall fake = new FakeCall();
    ClientCall<String, String> call = breaker.wrap(fake, Runnable::run);
    call.start(outcome, new Metadata());
    if (!fake.started) {
      return null;
    }
    nanos.addAndGet(Duration.ofMillis(durationMillis).toNanos());
    if (result != null) {
      fake.close(result);
    }
    return fake;
  }

  @Test
  void opensOnFailuresProbesAfterTheOpenDurationAndClosesOnSuccess() {
    ClusterCircuitBreaker breaker = breaker(Duration.ofSeconds(10));
    call(breaker, Status.OK, 1, new Outcome());
    call(breaker, Status.UNAVAILABLE, 1, new Outcome());
    call(breaker, Status.NOT_FOUND, 1, new Outcome()); // an answer, not a failure
    assertEquals("closed", breaker.state());
    call(breaker, Status.INTERNAL, 1, new Outcome());
    assertEquals("open", breaker.state(), "2 failures in a window of 4: 50%");

    Outcome refused = new Outcome();
    assertEquals(null, call(breaker, Status.OK, 1, refused));
    assertEquals(Status.Code.UNAVAILABLE, refused.status.getCode());
    assertEquals("the circuit breaker of cluster 'orders' is open (50% of recent calls failed,"
        + " 0% were slow; thresholds 50% and 50%); probing again in 30.0 s",
        refused.status.getDescription());
    assertTrue(ClusterCircuitBreaker.isOpenCircuit(refused.status));

    clock.advance(Duration.ofSeconds(29));
    assertEquals(null, call(breaker, Status.OK, 1, new Outcome()), "still open");
    clock.advance(Duration.ofSeconds(2));
    FakeCall probe1 = call(breaker, null, 0, new Outcome());
    FakeCall probe2 = call(breaker, null, 0, new Outcome());
    assertNotNull(probe1);
    assertNotNull(probe2);
    assertEquals("half_open", breaker.state());
    Outcome third = new Outcome();
    assertEquals(null, call(breaker, Status.OK, 1, third), "only 2 probes at a time");
    assertTrue(third.status.getDescription().endsWith("is half-open and its 2 probe calls are"
        + " in flight"));
    probe1.close(Status.OK);
    probe2.close(Status.OK);
    assertEquals("closed", breaker.state());
  }

  @Test
  void slowCallsOpenItAndCancelledCallsDoNotCount() {
    ClusterCircuitBreaker breaker = breaker(Duration.ofMillis(100));
    for (int i = 0; i < 10; i++) {
      call(breaker, Status.CANCELLED, 5_000, new Outcome());
    }
    assertEquals("closed", breaker.state(), "a client giving up says nothing of the cluster");
    call(breaker, Status.OK, 50, new Outcome());
    call(breaker, Status.OK, 50, new Outcome());
    call(breaker, Status.OK, 500, new Outcome());
    assertEquals("closed", breaker.state());
    call(breaker, Status.OK, 500, new Outcome());
    assertEquals("open", breaker.state(), "half the calls were slow");
    Outcome refused = new Outcome();
    call(breaker, Status.OK, 1, refused);
    assertTrue(refused.status.getDescription().contains("50% were slow"));
    assertFalse(refused.status.isOk());
  }
}
