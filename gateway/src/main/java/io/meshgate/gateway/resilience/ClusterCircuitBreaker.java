package io.meshgate.gateway.resilience;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.grpc.ClientCall;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.micrometer.core.instrument.Counter;
import java.time.Clock;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The circuit breaker of one upstream cluster, a resilience4j {@link CircuitBreaker} fed with
 * the outcome of every call to the cluster: a status among the failure codes is a failure, a
 * call longer than the slow-call duration is slow, a call the client cancelled does not count.
 * While the breaker is open, calls end at once with UNAVAILABLE saying so, without touching
 * the cluster. Thread-safe.
 */
public final class ClusterCircuitBreaker {
  private final String cluster;
  private final GatewayConfig.CircuitBreaker config;
  private final CircuitBreaker breaker;
  private final Clock clock;
  private final LongSupplier nanoTime;
  private final Counter rejections;
  private volatile Instant openedAt = Instant.MIN;
  private final java.util.List<io.micrometer.core.instrument.Meter> gauges =
      new java.util.ArrayList<>();

  /** Marks statuses the breaker made, so that nobody explains them as an unreachable cluster. */
  public static final class OpenCircuitException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    OpenCircuitException() {
      super(null, null, false, false);
    }
  }

  private static final OpenCircuitException OPEN = new OpenCircuitException();

  /**
   * @param clock drives the breaker's windows and its open time
   * @param nanoTime measures call durations
   */
  public ClusterCircuitBreaker(String cluster, GatewayConfig.CircuitBreaker config, Clock clock,
      LongSupplier nanoTime, GatewayMetrics metrics) {
    this.cluster = cluster;
    this.config = config;
    this.clock = clock;
    this.nanoTime = nanoTime;
    this.breaker = CircuitBreaker.of(cluster, CircuitBreakerConfig.custom()
        .failureRateThreshold(config.failureRateThreshold())
        .slowCallRateThreshold(config.slowCallRateThreshold())
        .slowCallDurationThreshold(config.slowCallDuration())
        .slidingWindow(config.windowSize(), Math.min(config.minimumCalls(),
                config.timeWindow() ? Integer.MAX_VALUE : config.windowSize()),
            config.timeWindow() ? CircuitBreakerConfig.SlidingWindowType.TIME_BASED
                : CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
        .waitDurationInOpenState(config.openDuration())
        .permittedNumberOfCallsInHalfOpenState(config.halfOpenCalls())
        .recordException(e -> true)
        .clock(clock)
        .build());
    breaker.getEventPublisher().onStateTransition(event -> {
      if (event.getStateTransition().getToState() == CircuitBreaker.State.OPEN) {
        openedAt = clock.instant();
      }
      metrics.counter("meshgate.circuit.breaker.transitions",
          "Circuit breaker state changes, by the state entered", "cluster", cluster, "state",
          label(event.getStateTransition().getToState())).increment();
    });
    for (CircuitBreaker.State state : new CircuitBreaker.State[] {CircuitBreaker.State.CLOSED,
        CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN}) {
      gauges.add(metrics.gauge("meshgate.circuit.breaker.state",
          "1 for the state the cluster's circuit breaker is in, 0 for the others", breaker,
          b -> b.getState() == state ? 1 : 0, "cluster", cluster, "state", label(state)));
    }
    this.rejections = metrics.counter("meshgate.circuit.breaker.rejections",
        "Calls failed at once because the cluster's circuit breaker was open", "cluster",
        cluster);
  }

  private static String label(CircuitBreaker.State state) {
    return state.name().toLowerCase(Locale.ROOT);
  }

  /** The gauges that read this breaker (removed when its cluster is replaced). */
  public java.util.List<io.micrometer.core.instrument.Meter> gauges() {
    return java.util.List.copyOf(gauges);
  }

  /** The breaker's state: closed, open, half_open (or another resilience4j state, lower case). */
  public String state() {
    return label(breaker.getState());
  }

  /**
   * What the breaker measures now: its state, the failure and slow-call rates of its window
   * (-1 while fewer than {@code minimumCalls} were recorded), the calls in it, and the calls
   * it refused since it was made.
   */
  public record Figures(String state, float failureRate, float slowCallRate, int calls,
      long notPermitted) {}

  /** The breaker's figures now (for the console). */
  public Figures figures() {
    CircuitBreaker.Metrics m = breaker.getMetrics();
    return new Figures(state(), m.getFailureRate(), m.getSlowCallRate(),
        m.getNumberOfBufferedCalls(), m.getNumberOfNotPermittedCalls());
  }

  /** Whether {@code status} was made by a breaker (not by the cluster). */
  public static boolean isOpenCircuit(Status status) {
    return status.getCause() instanceof OpenCircuitException;
  }

  /**
   * Wraps a call to the cluster: it starts only if the breaker lets it, and its outcome is
   * recorded.
   *
   * @param callbacks where a refused call's listener is told (the call's callback executor)
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> wrap(ClientCall<ReqT, RespT> call,
      Executor callbacks) {
    return new GuardedCall<>(call, callbacks);
  }

  private Status openStatus() {
    String why;
    if (breaker.getState() == CircuitBreaker.State.HALF_OPEN) {
      why = "half-open and its " + config.halfOpenCalls() + " probe calls are in flight";
    } else {
      CircuitBreaker.Metrics m = breaker.getMetrics();
      long left = Math.max(0, config.openDuration().toMillis()
          - (clock.millis() - openedAt.toEpochMilli()));
      why = String.format(Locale.ROOT, "open (%.0f%% of recent calls failed, %.0f%% were"
              + " slow; thresholds %.0f%% and %.0f%%); probing again in %.1f s",
          Math.max(0, m.getFailureRate()), Math.max(0, m.getSlowCallRate()),
          config.failureRateThreshold(), config.slowCallRateThreshold(), left / 1000.0);
    }
    return Status.UNAVAILABLE.withDescription("the circuit breaker of cluster '" + cluster
        + "' is " + why).withCause(OPEN);
  }

  private final class GuardedCall<ReqT, RespT>
      extends ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT> {
    private final Executor callbacks;
    // Set once in start(), on the caller's thread (the call's event loop).
    private boolean refused;

    GuardedCall(ClientCall<ReqT, RespT> delegate, Executor callbacks) {
      super(delegate);
      this.callbacks = callbacks;
    }

    @Override
    public void start(Listener<RespT> listener, Metadata headers) {
      if (!breaker.tryAcquirePermission()) {
        refused = true;
        rejections.increment();
        Status status = openStatus();
        callbacks.execute(() -> listener.onClose(status, new Metadata()));
        return;
      }
      long started = nanoTime.getAsLong();
      super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
          listener) {
        @Override
        public void onClose(Status status, Metadata trailers) {
          long nanos = nanoTime.getAsLong() - started;
          if (status.getCode() == Status.Code.CANCELLED) {
            breaker.releasePermission(); // the client gave up: says nothing about the cluster
          } else if (config.failureCodes().contains(status.getCode())) {
            breaker.onError(nanos, TimeUnit.NANOSECONDS, status.asRuntimeException());
          } else {
            breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
          }
          super.onClose(status, trailers);
        }
      }, headers);
    }

    @Override
    public void request(int numMessages) {
      if (!refused) {
        super.request(numMessages);
      }
    }

    @Override
    public void sendMessage(ReqT message) {
      if (!refused) {
        super.sendMessage(message);
      }
    }

    @Override
    public void halfClose() {
      if (!refused) {
        super.halfClose();
      }
    }

    @Override
    public void cancel(String message, Throwable cause) {
      if (!refused) {
        super.cancel(message, cause);
      }
    }

    @Override
    public boolean isReady() {
      return !refused && super.isReady();
    }
  }
}
