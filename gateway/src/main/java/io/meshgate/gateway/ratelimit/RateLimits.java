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
  private final GatewayMetrics metrics;
  private final LongSupplier nanoTime;

  private record Identity(String route, GatewayConfig.RateLimit rule) {}

  public RateLimits(GatewayMetrics metrics, LongSupplier nanoTime) {
    this.metrics = metrics;
    this.nanoTime = nanoTime;
  }

  /** The policy of a route, or null when it has no limits. */
  public RateLimitPolicy forRoute(String route, List<GatewayConfig.RateLimit> rules) {
    if (rules.isEmpty()) {
      return null;
    }
    List<RateLimitPolicy.Rule> compiled = new ArrayList<>();
    for (GatewayConfig.RateLimit rule : rules) {
      TokenBucketRateLimiter limiter = limiters.computeIfAbsent(new Identity(route, rule),
          id -> new TokenBucketRateLimiter(rule.permitsPerSecond(), rule.burst(),
              rule.maxKeys(), nanoTime));
      compiled.add(new RateLimitPolicy.Rule(rule, limiter, metrics.counter(
          "meshgate.ratelimit.rejections", "Calls refused by a rate limit", "route", route,
          "rule", rule.name())));
    }
    return new RateLimitPolicy(route, compiled);
  }

  /**
   * Forgets the limiters no route of {@code current} uses any more (after a reload).
   *
   * @param current route name to its rules
   */
  public void retainOnly(Map<String, List<GatewayConfig.RateLimit>> current) {
    limiters.keySet().removeIf(id -> !current.getOrDefault(id.route(), List.of())
        .contains(id.rule()));
  }
}
