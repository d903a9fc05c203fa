package io.meshgate.resolver.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Process-wide counters of the etcd resolvers, for export by whoever runs them (the gateway puts
 * them on its {@code /metrics}). Thread-safe.
 *
 * <p><b>Internal:</b> public only so that the Meshgate gateway can read it and this library's
 * resolvers can count into it; not a supported API, and it may change in any release.
 */
public final class DiscoveryMetrics {
  private static final AtomicLong LIST_FAILURES = new AtomicLong();
  private static final AtomicLong WATCH_FAILURES = new AtomicLong();
  private static final AtomicLong RELISTS = new AtomicLong();
  private static final AtomicLong UNREACHABLE = new AtomicLong();
  private static final AtomicLong SKIPPED_VALUES = new AtomicLong();
  private static final java.util.Map<Object, java.util.Map.Entry<String, Integer>> PUBLISHED =
      new java.util.concurrent.ConcurrentHashMap<>();

  private DiscoveryMetrics() {}

  /** Listings (Get) of a service that failed. */
  public static long listFailures() {
    return LIST_FAILURES.get();
  }

  /** Watches that broke (etcd unreachable, compaction, cancelled). */
  public static long watchFailures() {
    return WATCH_FAILURES.get();
  }

  /** Listings done again after a broken watch or a refresh. */
  public static long relists() {
    return RELISTS.get();
  }

  /** Resolvers that cannot reach etcd right now (and serve their last known endpoints). */
  public static long unreachableResolvers() {
    return UNREACHABLE.get();
  }

  /** Registry values that were not endpoints and were skipped. */
  public static long skippedValues() {
    return SKIPPED_VALUES.get();
  }

  /**
   * The endpoints each live etcd resolver last gave its channel, by target URI as written
   * ({@code etcd:///orders?tag=canary}); with several resolvers of one target (one per channel),
   * the largest count. A target appears once its first result is out and goes with its last
   * resolver.
   */
  public static java.util.Map<String, Integer> endpointsByTarget() {
    java.util.Map<String, Integer> counts = new java.util.HashMap<>();
    for (java.util.Map.Entry<String, Integer> e : PUBLISHED.values()) {
      counts.merge(e.getKey(), e.getValue(), Math::max);
    }
    return counts;
  }

  /** Counts one event; for this library's resolvers only. */
  public static void published(Object resolver, String target, int endpoints) {
    PUBLISHED.put(resolver, java.util.Map.entry(target, endpoints));
  }

  /** Counts one event; for this library's resolvers only. */
  public static void removed(Object resolver) {
    PUBLISHED.remove(resolver);
  }

  /** Counts one event; for this library's resolvers only. */
  public static void listFailed() {
    LIST_FAILURES.incrementAndGet();
  }

  /** Counts one event; for this library's resolvers only. */
  public static void watchFailed() {
    WATCH_FAILURES.incrementAndGet();
  }

  /** Counts one event; for this library's resolvers only. */
  public static void relisted() {
    RELISTS.incrementAndGet();
  }

  /** Counts one event; for this library's resolvers only. */
  public static void unreachable(boolean now) {
    UNREACHABLE.addAndGet(now ? 1 : -1);
  }

  /** Counts one event; for this library's resolvers only. */
  public static void skippedValue() {
    SKIPPED_VALUES.incrementAndGet();
  }
}
