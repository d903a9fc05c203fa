package io.meshgate.gateway.route;

import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.ratelimit.RateLimits;
import io.meshgate.gateway.resilience.FallbackCall;
import io.meshgate.gateway.resilience.HedgingPolicy;
import io.meshgate.gateway.resilience.ResponseCache;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.meshgate.gateway.upstream.UpstreamCluster;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Compiles the routes of a configuration into a {@link RouteTable} over running clusters, with
 * each route's policies: its JWT authenticator, its rate limits (whose buckets {@link RateLimits}
 * keeps across compilations for rules that did not change) and its retry policy. Services the
 * gateway answers itself (server reflection) come first, ahead of every configured route.
 * Thread-safe.
 */
public final class RouteCompiler {
  private final RateLimits rateLimits;
  private final GatewayMetrics metrics;
  private final LongSupplier nanoTime;
  private final Map<String, UpstreamCluster> builtIn;
  /** Route caches by route name, kept across compilations while their settings stay. */
  private final Map<String, KeptCache> caches = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param builtIn the gateway's own services, by full service name, and the clusters that
   *     answer them
   * @param nanoTime the clock of the retry budgets
   */
  public RouteCompiler(RateLimits rateLimits, GatewayMetrics metrics, LongSupplier nanoTime,
      Map<String, UpstreamCluster> builtIn) {
    this.rateLimits = rateLimits;
    this.metrics = metrics;
    this.nanoTime = nanoTime;
    this.builtIn = new LinkedHashMap<>(builtIn);
  }

  /** The route table of {@code config} over {@code clusters}, with policies of {@code auth}. */
  public RouteTable compile(GatewayConfig config, Map<String, UpstreamCluster> clusters,
      Authentication auth) {
    rateLimits.useStore(config.rateLimitStore());
    List<Route> compiled = new ArrayList<>();
    List<GatewayConfig.Match> matches = new ArrayList<>();
    builtIn.forEach((service, cluster) -> {
      compiled.add(new Route(cluster.name(), cluster, 0, 0, null, null, null,
          null, null, null));
      matches.add(new GatewayConfig.Match(service, null, null, List.of()));
    });
    for (GatewayConfig.Route route : config.routes()) {
      compiled.add(Route.of(route, clusters,
          auth.forRoute(route.name(), route.auth()),
          rateLimits.forRoute(route.name(), route.rateLimits()),
          route.retry() == null ? null
              : new RetryPolicy(route.name(), route.retry(), nanoTime, metrics),
          route.hedging() == null ? null
              : new HedgingPolicy(route.name(), route.hedging(), nanoTime, metrics),
          answers(route)));
      matches.add(route.match());
    }
    return RouteTable.of(compiled, matches);
  }

  /**
   * The cache and fallback of a route; its cache (and what it holds) is the one of the last
   * compilation when the route's cache settings did not change.
   */
  private FallbackCall.Plan answers(GatewayConfig.Route route) {
    if (route.cache() == null && route.fallback() == null) {
      return null;
    }
    ResponseCache cache = null;
    if (route.cache() != null) {
      java.time.Duration stale = route.fallback() == null ? null
          : route.fallback().staleIfError();
      KeptCache kept = caches.get(route.name());
      if (kept == null || !kept.config().equals(route.cache())
          || !java.util.Objects.equals(kept.stale(), stale)) {
        GatewayConfig.Cache c = route.cache();
        ResponseCache made = new ResponseCache(c.maxBytes(), c.maxEntryBytes(),
            stale == null ? 0 : stale.toNanos(), nanoTime);
        kept = new KeptCache(c, stale, made);
        caches.put(route.name(), kept);
        String name = route.name();
        metrics.gauge("meshgate.cache.bytes", "Bytes a route's response cache holds", caches,
            all -> all.containsKey(name) ? all.get(name).cache().bytes() : 0, "route", name);
      }
      cache = kept.cache();
    }
    String name = route.name();
    // Lookups happen on every cached call: their counters are made once, not looked up.
    Map<String, io.micrometer.core.instrument.Counter> lookups = new java.util.HashMap<>();
    if (cache != null) {
      for (String result : List.of("hit", "miss", "bypass")) {
        lookups.put(result, metrics.counter("meshgate.cache.lookups", "Response cache lookups"
            + " of a route, by result (hit, miss, bypass: the client asked for a fresh answer)",
            "route", name, "result", result));
      }
    }
    FallbackCall.Outcomes outcomes = new FallbackCall.Outcomes() {
      @Override
      public void cache(String result) {
        io.micrometer.core.instrument.Counter counter = lookups.get(result);
        if (counter != null) {
          counter.increment();
        }
      }

      @Override
      public void fallback(String trigger, String answer) {
        metrics.counter("meshgate.fallbacks", "Fallback answers a route gave, by trigger"
            + " (breaker, timeout, status) and answer (static, stale)", "route", name,
            "trigger", trigger, "answer", answer).increment();
      }
    };
    return new FallbackCall.Plan(cache, route.cache(), route.fallback(), outcomes);
  }

  private record KeptCache(GatewayConfig.Cache config, java.time.Duration stale,
      ResponseCache cache) {}

  /** Forgets the rate-limit buckets of rules that {@code config} no longer has. */
  public void retainRateLimitsOf(GatewayConfig config) {
    Map<String, List<GatewayConfig.RateLimit>> limits = new LinkedHashMap<>();
    config.routes().forEach(r -> limits.put(r.name(), r.rateLimits()));
    rateLimits.retainOnly(limits);
    caches.keySet().removeIf(name -> config.routes().stream()
        .noneMatch(r -> r.name().equals(name) && r.cache() != null));
  }
}
