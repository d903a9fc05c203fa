package io.meshgate.gateway.telemetry;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The last 15 minutes of traffic per route and per cluster, for the console's charts: every
 * 5 seconds, the calls that ended in that time, how many failed, and their p50 and p99
 * latency. Calls are counted as they end (a few uncontended atomic additions); {@link #sample}
 * closes an interval. Bounded: 180 intervals of at most {@link #MAX_SERIES} routes and
 * clusters (names come from the configuration, and a series no call touched for 15 minutes is
 * dropped). Thread-safe.
 */
public final class TrafficHistory {
  /** Intervals kept: 15 minutes of 5 s. */
  public static final int SLOTS = 180;
  /** The length of an interval. */
  public static final long INTERVAL_MILLIS = 5_000;
  static final int MAX_SERIES = 1024;
  /** Latency buckets: two per power of two of microseconds, 1 µs to ~70 s. */
  private static final int BUCKETS = 54;

  private final Map<String, Series> routes = new ConcurrentHashMap<>();
  private final Map<String, Series> clusters = new ConcurrentHashMap<>();

  /** One interval of one route or cluster. */
  public record Sample(long endMillis, long calls, long errors, double p50Millis,
      double p99Millis) {}

  private static final class Series {
    final LongAdder calls = new LongAdder();
    final LongAdder errors = new LongAdder();
    final AtomicLongArray latency = new AtomicLongArray(BUCKETS);
    // Only in sample(), which is serialized.
    final Sample[] ring = new Sample[SLOTS];
    int next;
    int idle;

    void record(boolean failed, long nanos) {
      calls.increment();
      if (failed) {
        errors.increment();
      }
      latency.incrementAndGet(bucket(nanos));
    }
  }

  /** Counts a call that ended; any thread. Route and cluster may be null (no route). */
  public void record(String route, String cluster, Status.Code code, long nanos) {
    boolean failed = code != Status.Code.OK;
    if (route != null) {
      record(routes, route, failed, nanos);
    }
    if (cluster != null && !cluster.isEmpty()) {
      record(clusters, cluster, failed, nanos);
    }
  }

  /** Counts into the series of {@code name} (no key is built per call). */
  private void record(Map<String, Series> of, String name, boolean failed, long nanos) {
    Series s = of.get(name);
    if (s == null) {
      if (routes.size() + clusters.size() >= MAX_SERIES) {
        return;
      }
      s = of.computeIfAbsent(name, k -> new Series());
    }
    s.record(failed, nanos);
  }

  /** Closes the current interval of every series; called every {@link #INTERVAL_MILLIS}. */
  public synchronized void sample(long nowMillis) {
    for (Named entry : iterate()) {
      Series s = entry.series();
      long calls = s.calls.sumThenReset();
      long errors = s.errors.sumThenReset();
      long[] counts = new long[BUCKETS];
      long total = 0;
      for (int i = 0; i < BUCKETS; i++) {
        counts[i] = s.latency.getAndSet(i, 0);
        total += counts[i];
      }
      s.idle = calls == 0 ? s.idle + 1 : 0;
      if (s.idle >= SLOTS) {
        entry.of().remove(entry.name(), s); // nothing for 15 minutes: a removed route, say
        continue;
      }
      s.ring[s.next] = new Sample(nowMillis, calls, errors, quantile(counts, total, 0.50),
          quantile(counts, total, 0.99));
      s.next = (s.next + 1) % SLOTS;
    }
  }

  private record Named(String key, Map<String, Series> of, String name, Series series) {}

  private List<Named> iterate() {
    List<Named> all = new ArrayList<>();
    routes.forEach((k, v) -> all.add(new Named("route:" + k, routes, k, v)));
    clusters.forEach((k, v) -> all.add(new Named("cluster:" + k, clusters, k, v)));
    return all;
  }

  /**
   * The intervals kept of each route ({@code route:NAME}) and cluster ({@code cluster:NAME}),
   * oldest first.
   */
  public synchronized Map<String, List<Sample>> snapshot() {
    Map<String, List<Sample>> out = new LinkedHashMap<>();
    iterate().stream().sorted(java.util.Comparator.comparing(Named::key)).forEach(e -> {
      Series s = e.series();
      List<Sample> samples = new ArrayList<>();
      for (int i = 0; i < SLOTS; i++) {
        Sample sample = s.ring[(s.next + i) % SLOTS];
        if (sample != null) {
          samples.add(sample);
        }
      }
      out.put(e.key(), samples);
    });
    return out;
  }

  /**
   * Closes an interval every {@link #INTERVAL_MILLIS} on a daemon thread of its own, until
   * closed.
   */
  public AutoCloseable startSampling() {
    java.util.concurrent.ScheduledExecutorService timer =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "meshgate-traffic-history");
          t.setDaemon(true);
          return t;
        });
    timer.scheduleAtFixedRate(() -> sample(System.currentTimeMillis()), INTERVAL_MILLIS,
        INTERVAL_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
    return timer::shutdownNow;
  }

  static int bucket(long nanos) {
    long micros = Math.max(1, nanos / 1000);
    int log = 63 - Long.numberOfLeadingZeros(micros); // 2^log <= micros < 2^(log+1)
    boolean upperHalf = log > 0 && (micros - (1L << log)) >= (1L << (log - 1));
    return Math.min(BUCKETS - 1, 2 * log + (upperHalf ? 1 : 0));
  }

  /** The upper bound of a bucket, in milliseconds. */
  static double upperMillis(int bucket) {
    int log = bucket / 2;
    double base = Math.pow(2, log);
    return (bucket % 2 == 0 ? base * 1.5 : base * 2) / 1000.0;
  }

  private static double quantile(long[] counts, long total, double q) {
    if (total == 0) {
      return 0;
    }
    long rank = (long) Math.ceil(q * total);
    long seen = 0;
    for (int i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) {
        return upperMillis(i);
      }
    }
    return upperMillis(counts.length - 1);
  }
}
