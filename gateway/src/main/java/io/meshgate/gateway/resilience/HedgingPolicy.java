package io.meshgate.gateway.resilience;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.micrometer.core.instrument.Counter;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * The hedging rules of one route ({@code hedging}, with the meaning of gRPC's
 * {@code hedgingPolicy}): how many attempts, the delay between them, which statuses let the next
 * one start at once, and the budget every attempt after the first is drawn from. {@link #wrap}
 * makes a hedged call. Thread-safe.
 */
public final class HedgingPolicy {
  private final GatewayConfig.Hedging config;
  private final RetryBudget budget;
  private final Counter hedges;
  private final Counter budgetExhausted;
  private final Counter wonByLater;

  public HedgingPolicy(String route, GatewayConfig.Hedging config, LongSupplier nanoTime,
      GatewayMetrics metrics) {
    this.config = config;
    this.budget = new RetryBudget(config.budgetRatio(), config.budgetMinPerSecond(), nanoTime);
    this.hedges = metrics.counter("meshgate.hedges", "Hedged attempts after the first", "route",
        route);
    this.budgetExhausted = metrics.counter("meshgate.retry.budget.exhausted",
        "Retries not made because the route's retry budget was spent", "route", route);
    this.wonByLater = metrics.counter("meshgate.hedges.won", "Hedged calls whose answer came"
        + " from an attempt after the first", "route", route);
  }

  /**
   * A hedged call.
   *
   * @param attempt starts one attempt with the call's options (the cluster's call)
   * @param options the call's options, with its overall deadline
   * @param scheduler runs delayed attempts on the call's thread
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> wrap(Function<CallOptions, ClientCall<ReqT, RespT>>
      attempt, CallOptions options, RetryPolicy.Replay<ReqT> replay,
      RetryPolicy.Scheduler scheduler) {
    budget.onCall();
    return new HedgingCall<>(this, attempt, options, replay, scheduler);
  }

  /** Whether methods not marked idempotent are hedged too ({@code nonIdempotent}). */
  public boolean hedgesNonIdempotent() {
    return config.nonIdempotent();
  }

  GatewayConfig.Hedging config() {
    return config;
  }

  /** Whether another attempt may start: the budget has room for it. */
  boolean mayHedge() {
    if (!budget.tryRetry()) {
      budgetExhausted.increment();
      return false;
    }
    hedges.increment();
    return true;
  }

  /** Whether an attempt's end lets the next one start rather than end the call. */
  boolean nonFatal(Status status) {
    return !ClusterCircuitBreaker.isOpenCircuit(status)
        && config.nonFatalCodes().contains(status.getCode());
  }

  void wonByLater() {
    wonByLater.increment();
  }
}
