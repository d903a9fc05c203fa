package io.meshgate.gateway.telemetry;

import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.ToDoubleFunction;

/**
 * The gateway's Micrometer meters, exposed in Prometheus text format on the admin port.
 *
 * <p>Per call: {@code meshgate_requests_total}, {@code meshgate_request_duration_seconds}
 * (a histogram with the configured buckets), {@code meshgate_inflight_requests}, messages and
 * payload bytes each way, labelled by route, service, method, cluster, protocol and (when done)
 * gRPC status code. Label values a client could invent (the method under a prefix route) are
 * bounded: past {@code maxMethods} distinct methods, new ones are counted as {@code _other}, and
 * calls that match no route are {@code _unmatched} / {@code _unknown}.
 *
 * <p>The JVM's own meters come with them (Micrometer's binders: {@code jvm_memory_*},
 * {@code jvm_gc_*}, {@code jvm_threads_*}, {@code jvm_classes_*}, {@code process_*},
 * {@code system_cpu_*}), and {@code meshgate_jvm_allocated_bytes_total}: heap bytes the JVM's
 * threads have allocated, exactly (from the thread MXBean, not estimated at collections), which
 * with {@code meshgate_requests_total} gives what a call allocates.
 *
 * <p>Thread-safe: meters are created once and cached; recording is lock-free.
 */
public final class GatewayMetrics implements AutoCloseable {
  static final String UNMATCHED = "_unmatched";
  static final String UNKNOWN = "_unknown";
  static final String OTHER = "_other";

  private final PrometheusMeterRegistry registry;
  private final Duration[] buckets;
  private final int maxMethods;
  private final AtomicInteger methods = new AtomicInteger();
  private final Map<Key, CallMeters> calls = new ConcurrentHashMap<>();
  private final Map<List<String>, Counter> counters = new ConcurrentHashMap<>();
  private final TrafficHistory history = new TrafficHistory();
  private final JvmGcMetrics gcMetrics;

  private static final int CODES = Status.Code.values().length;

  /** Meters per the {@code metrics:} section of the config. */
  public GatewayMetrics(GatewayConfig.Metrics config) {
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.buckets = config.latencyBuckets().toArray(Duration[]::new);
    this.maxMethods = config.maxMethods();
    // Two of the processor binder's names fail Prometheus' lint (promtool check metrics: a
    // "_count" gauge, an abbreviated unit); process_cpu_usage and system_cpu_usage say the same.
    registry.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.deny(
        id -> id.getName().equals("system.cpu.count") || id.getName().equals("process.cpu.time")));
    new JvmMemoryMetrics().bindTo(registry);
    this.gcMetrics = new JvmGcMetrics();
    gcMetrics.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    if (ManagementFactory.getThreadMXBean()
        instanceof com.sun.management.ThreadMXBean threads
        && threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled()) {
      io.micrometer.core.instrument.FunctionCounter.builder(
              "meshgate.jvm.allocated", threads,
              t -> (double) t.getTotalThreadAllocatedBytes())
          .baseUnit("bytes")
          .description("Heap bytes allocated by the JVM's threads since it started")
          .register(registry);
    }
  }

  /** Stops listening to the JVM's collections (the other meters only read when scraped). */
  @Override
  public void close() {
    gcMetrics.close();
  }

  /** The last 15 minutes of calls per route and cluster (the console's charts). */
  public TrafficHistory history() {
    return history;
  }

  /** The registry, for meters other parts of the gateway add. */
  public MeterRegistry registry() {
    return registry;
  }

  /** Every meter in Prometheus text exposition format 0.0.4. */
  public String scrape() {
    return registry.scrape();
  }

  /**
   * The meters of calls to one method through one route.
   *
   * @param route the route's name, or null when no route matched
   * @param cluster the route's cluster, or null
   */
  public CallMeters call(String protocol, String route, String cluster, String service,
      String method) {
    if (route == null) {
      route = UNMATCHED;
      cluster = "";
      service = UNKNOWN;
      method = UNKNOWN;
    }
    Key key = new Key(protocol, route, cluster == null ? "" : cluster, service, method);
    CallMeters meters = calls.get(key);
    if (meters != null) {
      return meters;
    }
    if (!route.equals(UNMATCHED) && methods.get() >= maxMethods) {
      // A client inventing method names must not grow the registry: fold them together (one
      // more key per route and protocol at most).
      key = new Key(protocol, route, key.cluster(), OTHER, OTHER);
      return calls.computeIfAbsent(key, CallMeters::new);
    }
    return calls.computeIfAbsent(key, k -> {
      methods.incrementAndGet();
      return new CallMeters(k);
    });
  }

  /**
   * A counter, created on first use. Label values must come from the configuration or a small
   * fixed set, never from a client.
   *
   * @param tags label names and values, alternating
   */
  public Counter counter(String name, String description, String... tags) {
    List<String> key = new java.util.ArrayList<>(tags.length + 1);
    key.add(name);
    key.addAll(List.of(tags));
    return counters.computeIfAbsent(key, k -> Counter.builder(name).description(description)
        .tags(tags).register(registry));
  }

  /** Registers a counter whose value {@code count} reads when scraped. */
  public void functionCounter(String name, String description,
      java.util.function.LongSupplier count, String... tags) {
    io.micrometer.core.instrument.FunctionCounter.builder(name, count,
            c -> (double) c.getAsLong())
        .description(description).tags(tags).register(registry);
  }

  /**
   * Registers a counter that reads {@code state} when scraped. Micrometer holds {@code state}
   * weakly: it must be kept alive elsewhere (a capturing lambda would not be).
   */
  public <T> void functionCounter(String name, String description, T state,
      ToDoubleFunction<T> count, String... tags) {
    io.micrometer.core.instrument.FunctionCounter.builder(name, state, count)
        .description(description).tags(tags).register(registry);
  }

  /** Registers a gauge that reads {@code state} when scraped; returns it (for removal). */
  public <T> io.micrometer.core.instrument.Meter gauge(String name, String description, T state,
      ToDoubleFunction<T> value, String... tags) {
    return Gauge.builder(name, state, value).description(description).tags(tags)
        .strongReference(true).register(registry);
  }

  /** Removes a meter whose subject is gone (a replaced cluster's gauges). */
  public void remove(io.micrometer.core.instrument.Meter meter) {
    registry.remove(meter);
  }

  private record Key(String protocol, String route, String cluster, String service,
      String method) {
    Tags tags() {
      return Tags.of("protocol", protocol, "route", route, "cluster", cluster, "service", service,
          "method", method);
    }
  }

  /** The meters of one method on one route; codes get their timer on first use. */
  public final class CallMeters {
    private final Key key;
    private final Tags tags;
    private final AtomicLong inflight = new AtomicLong();
    private final Counter requestMessages;
    private final Counter responseMessages;
    private final Counter requestBytes;
    private final Counter responseBytes;
    private final AtomicReferenceArray<Timer> timers = new AtomicReferenceArray<>(CODES);
    private final AtomicReferenceArray<Counter> totals = new AtomicReferenceArray<>(CODES);

    private CallMeters(Key key) {
      this.key = key;
      this.tags = key.tags();
      Gauge.builder("meshgate.inflight.requests", inflight, AtomicLong::get)
          .description("Calls in progress").tags(tags).strongReference(true).register(registry);
      requestMessages = Counter.builder("meshgate.request.messages")
          .description("Messages received from clients").tags(tags).register(registry);
      responseMessages = Counter.builder("meshgate.response.messages")
          .description("Messages sent to clients").tags(tags).register(registry);
      requestBytes = Counter.builder("meshgate.request.bytes")
          .description("Message payload bytes received from clients (REST: body bytes)")
          .tags(tags).register(registry);
      responseBytes = Counter.builder("meshgate.response.bytes")
          .description("Message payload bytes sent to clients (REST: body bytes)").tags(tags)
          .register(registry);
    }

    void started() {
      inflight.incrementAndGet();
    }

    void finished(Status.Code code, long nanos, long messagesIn, long messagesOut, long bytesIn,
        long bytesOut) {
      inflight.decrementAndGet();
      int i = code.ordinal();
      Timer timer = timers.get(i);
      Counter total = totals.get(i);
      if (timer == null || total == null) {
        // Racing creators get the same meter from the registry: no lock needed.
        Tags withCode = tags.and("code", code.name());
        timer = Timer.builder("meshgate.request.duration")
            .description("Time from the call's first byte to its last")
            .tags(withCode).serviceLevelObjectives(buckets).register(registry);
        total = Counter.builder("meshgate.requests").description("Calls, by outcome")
            .tags(withCode).register(registry);
        timers.set(i, timer);
        totals.set(i, total);
      }
      timer.record(nanos, TimeUnit.NANOSECONDS);
      total.increment();
      history.record(key.route.equals(UNMATCHED) ? null : key.route, key.cluster, code, nanos);
      if (messagesIn > 0) {
        requestMessages.increment(messagesIn);
        requestBytes.increment(bytesIn);
      }
      if (messagesOut > 0) {
        responseMessages.increment(messagesOut);
        responseBytes.increment(bytesOut);
      }
    }

    String route() {
      return key.route;
    }
  }
}
