package io.meshgate.gateway.resilience;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.micrometer.core.instrument.Counter;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * The retry rules of one route: which statuses, how many attempts, the backoff, the per-try
 * timeout, the replay buffer and the budget. {@link #wrap} makes a call that retries by these
 * rules. Thread-safe.
 */
public final class RetryPolicy {
  private final String route;
  private final GatewayConfig.Retry config;
  private final RetryBudget budget;
  private final Counter retries;
  private final Counter budgetExhausted;

  public RetryPolicy(String route, GatewayConfig.Retry config, LongSupplier nanoTime,
      GatewayMetrics metrics) {
    this.route = route;
    this.config = config;
    this.budget = new RetryBudget(config.budgetRatio(), config.budgetMinPerSecond(), nanoTime);
    this.retries = metrics.counter("meshgate.retries", "Attempts after the first", "route",
        route);
    this.budgetExhausted = metrics.counter("meshgate.retry.budget.exhausted",
        "Retries not made because the route's retry budget was spent", "route", route);
  }

  /** How a message is kept for replay and brought back. */
  public interface Replay<T> {
    /** Messages that are byte arrays nobody changes: kept as they are. */
    Replay<byte[]> BYTE_ARRAYS = new Replay<>() {
      @Override
      public byte[] save(byte[] message) {
        return message;
      }

      @Override
      public byte[] restore(byte[] saved) {
        return saved;
      }
    };

    /** A copy of {@code message} that outlives it (taken before it is sent). */
    byte[] save(T message);

    /** A message to send again. */
    T restore(byte[] saved);
  }

  /** Schedules the next attempt on the call's thread. */
  public interface Scheduler {
    /** @return cancels the task when it has not run yet (it may then never run) */
    java.util.concurrent.Future<?> schedule(Runnable task, long delayNanos);
  }

  /**
   * A call that retries.
   *
   * @param attempt starts one attempt with the given options (the cluster's call)
   * @param options the call's options, with its overall deadline
   * @param scheduler runs delayed attempts on the call's thread
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> wrap(Function<CallOptions, ClientCall<ReqT, RespT>>
      attempt, CallOptions options, Replay<ReqT> replay, Scheduler scheduler) {
    budget.onCall();
    return new RetryingCall<>(this, attempt, options, replay, scheduler);
  }

  GatewayConfig.Retry config() {
    return config;
  }

  String route() {
    return route;
  }

  /** Whether a failed attempt may be retried: the status, the breaker, the budget. */
  boolean retryable(Status status, boolean perTryTimedOut) {
    if (ClusterCircuitBreaker.isOpenCircuit(status)) {
      return false; // the cluster is known to be failing: another attempt would be refused too
    }
    if (!perTryTimedOut && !config.codes().contains(status.getCode())) {
      return false;
    }
    if (!budget.tryRetry()) {
      budgetExhausted.increment();
      return false;
    }
    retries.increment();
    return true;
  }

  /** The wait before retry number {@code retry} (1 for the first): full jitter. */
  long backoffNanos(int retry) {
    double cap = Math.min(config.maxBackoff().toNanos(),
        config.initialBackoff().toNanos() * Math.pow(config.backoffMultiplier(), retry - 1));
    return (long) (ThreadLocalRandom.current().nextDouble() * cap);
  }

  /** The deadline of an attempt: the per-try timeout within the call's deadline. */
  CallOptions attemptOptions(CallOptions options) {
    if (config.perTryTimeout() == null) {
      return options;
    }
    long perTry = config.perTryTimeout().toNanos();
    if (options.getDeadline() != null
        && options.getDeadline().timeRemaining(TimeUnit.NANOSECONDS) <= perTry) {
      return options;
    }
    return options.withDeadlineAfter(perTry, TimeUnit.NANOSECONDS);
  }
}
