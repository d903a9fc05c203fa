package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Deadline;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A route's retry rules, on clocks the test moves. */
class RetryPolicyTest {
  private final AtomicLong nanos = new AtomicLong(TimeUnit.SECONDS.toNanos(1_000));
  private final GatewayMetrics metrics = new GatewayMetrics(GatewayConfig.Metrics.defaults());

  private RetryPolicy policy(Duration perTry, double budgetRatio, int budgetMinPerSecond) {
    return new RetryPolicy("orders", new GatewayConfig.Retry(
        Set.of(Status.Code.UNAVAILABLE), 3, Duration.ofMillis(25), Duration.ofMillis(250), 2,
        perTry, 64 * 1024, budgetRatio, budgetMinPerSecond), nanos::get, metrics);
  }

  private double counter(String name) {
    return metrics.registry().find(name).tag("route", "orders").counter().count();
  }

  @Test
  void retriesTheConfiguredCodesAndCountsEachRetry() {
    RetryPolicy policy = policy(null, 0.2, 10);
    assertTrue(policy.retryable(Status.UNAVAILABLE, false));
    assertFalse(policy.retryable(Status.INTERNAL, false), "INTERNAL is not in codes");
    assertFalse(policy.retryable(Status.DEADLINE_EXCEEDED, false));
    assertTrue(policy.retryable(Status.DEADLINE_EXCEEDED, true),
        "an attempt cut by the per-try timeout is retried whatever its status");
    assertEquals(2, counter("meshgate.retries"));
  }

  @Test
  void neverRetriesARefusalOfAnOpenCircuit() {
    RetryPolicy policy = policy(null, 0.2, 10);
    Status open = Status.UNAVAILABLE.withDescription("the circuit breaker is open")
        .withCause(new ClusterCircuitBreaker.OpenCircuitException());
    assertFalse(policy.retryable(open, false));
    assertEquals(0, counter("meshgate.retries"));
  }

  @Test
  void stopsWhenTheBudgetIsSpentAndCountsThat() {
    RetryPolicy policy = policy(null, 0, 1);
    for (int i = 0; i < 10; i++) {
      assertTrue(policy.retryable(Status.UNAVAILABLE, false), "retry " + i);
    }
    assertFalse(policy.retryable(Status.UNAVAILABLE, false));
    assertEquals(1, counter("meshgate.retry.budget.exhausted"));
    nanos.addAndGet(TimeUnit.SECONDS.toNanos(10));
    assertTrue(policy.retryable(Status.UNAVAILABLE, false), "the window moved on");
  }

  @Test
  void backoffIsFullJitterUnderAnExponentialCap() {
    RetryPolicy policy = policy(null, 0.2, 10);
    long[] caps = {25, 50, 100, 200, 250, 250};
    for (int retry = 1; retry <= caps.length; retry++) {
      long cap = TimeUnit.MILLISECONDS.toNanos(caps[retry - 1]);
      long max = 0;
      for (int i = 0; i < 2_000; i++) {
        long wait = policy.backoffNanos(retry);
        assertTrue(wait >= 0 && wait < cap, "retry " + retry + ": " + wait + " ns");
        max = Math.max(max, wait);
      }
      assertTrue(max > cap / 2, "retry " + retry + ": jitter spreads up to the cap");
    }
  }

  @Test
  void perTryTimeoutAppliesOnlyWithinTheCallsDeadline() {
    FakeTicker ticker = new FakeTicker();
    RetryPolicy policy = policy(Duration.ofMillis(200), 0.2, 10);
    CallOptions shortCall = CallOptions.DEFAULT.withDeadline(
        Deadline.after(150, TimeUnit.MILLISECONDS, ticker));
    assertSame(shortCall, policy.attemptOptions(shortCall),
        "150 ms left: the attempt keeps the call's deadline");
    CallOptions longCall = CallOptions.DEFAULT.withDeadline(
        Deadline.after(5, TimeUnit.SECONDS, ticker));
    long attempt = policy.attemptOptions(longCall).getDeadline()
        .timeRemaining(TimeUnit.MILLISECONDS);
    assertTrue(attempt <= 200, "the attempt gets 200 ms of the 5 s: " + attempt);
    CallOptions noDeadline = CallOptions.DEFAULT;
    assertTrue(policy.attemptOptions(noDeadline).getDeadline() != null,
        "a call without a deadline gets the per-try timeout");
    assertSame(noDeadline, policy(null, 0.2, 10).attemptOptions(noDeadline),
        "no per-try timeout: options unchanged");
  }

  private static final class FakeTicker extends Deadline.Ticker {
    @Override
    public long nanoTime() {
      return 0;
    }
  }
}
