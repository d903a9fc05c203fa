package io.meshgate.gateway.ratelimit;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Every rate limiter of the gateway, kept by rule identity (route, rule name and settings): a
 * route table rebuilt from a changed configuration gets the same limiter, buckets and all, for
 * every rule that did not change, and a fresh one for a rule that did. Thread-safe.
 */
public final class RateLimits {
  private final Map<Identity, TokenBucketRateLimiter> limiters = new ConcurrentHashMap<>();
  private final Map<Identity, GlobalLimiter> globals = new ConcurrentHashMap<>();
  private RedisStore store; // guarded by this
  private final GatewayMetrics metrics;
  private final LongSupplier nanoTime;

  private record Identity(String route, GatewayConfig.RateLimit rule) {}

  public RateLimits(GatewayMetrics metrics, LongSupplier nanoTime) {
    this.metrics = metrics;
    this.nanoTime = nanoTime;
  }

  /**
   * The store of global limits from now on (null: none): a route table compiled after this
   * uses it. A changed store replaces the one before, which is closed.
   */
  public synchronized void useStore(GatewayConfig.RateLimitStore config) {
    if (store != null && (config == null || !store.config().equals(config))) {
      store.close();
      store = null;
      globals.clear();
    }
    if (config != null && store == null) {
      store = new RedisStore(config);
    }
  }

  /** The policy of a route, or null when it has no limits. */
  public synchronized RateLimitPolicy forRoute(String route,
      List<GatewayConfig.RateLimit> rules) {
    if (rules.isEmpty()) {
      return null;
    }
    List<RateLimitPolicy.Rule> compiled = new ArrayList<>();
    for (GatewayConfig.RateLimit rule : rules) {
      int fleet = store == null ? 1 : store.config().fleetSize();
      // A global rule's own bucket is its fallback (onStoreFailure: local): a fleet's share.
      TokenBucketRateLimiter limiter = limiters.computeIfAbsent(new Identity(route, rule),
          id -> rule.global() == null
              ? new TokenBucketRateLimiter(rule.permitsPerSecond(), rule.burst(),
                  rule.maxKeys(), nanoTime)
              : new TokenBucketRateLimiter(rule.permitsPerSecond() / fleet,
                  Math.max(1, rule.burst() / fleet), rule.maxKeys(), nanoTime));
      GlobalLimiter global = null;
      if (rule.global() != null && store != null) {
        global = globals.computeIfAbsent(new Identity(route, rule), id -> new GlobalLimiter(
            rule, route + ":" + rule.name() + ":", store, limiter,
            metrics.counter("meshgate.ratelimit.store.errors", "Global rate-limit decisions"
                + " the store did not make (onStoreFailure decided)", "route", route, "rule",
                rule.name(), "reason", "timeout"),
            metrics.counter("meshgate.ratelimit.store.errors", "Global rate-limit decisions"
                + " the store did not make (onStoreFailure decided)", "route", route, "rule",
                rule.name(), "reason", "unavailable"), nanoTime));
      }
      compiled.add(new RateLimitPolicy.Rule(rule, limiter, metrics.counter(
          "meshgate.ratelimit.rejections", "Calls refused by a rate limit", "route", route,
          "rule", rule.name()), global));
    }
    return new RateLimitPolicy(route, compiled);
  }

  /** Closes the store's connection. */
  public synchronized void close() {
    if (store != null) {
      store.close();
      store = null;
    }
  }

  /**
   * Forgets the limiters no route of {@code current} uses any more (after a reload).
   *
   * @param current route name to its rules
   */
  public void retainOnly(Map<String, List<GatewayConfig.RateLimit>> current) {
    limiters.keySet().removeIf(id -> !current.getOrDefault(id.route(), List.of())
        .contains(id.rule()));
    globals.keySet().removeIf(id -> !current.getOrDefault(id.route(), List.of())
        .contains(id.rule()));
  }
}
