package io.meshgate.gateway.route;

import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.ratelimit.RateLimits;
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
              : new RetryPolicy(route.name(), route.retry(), nanoTime, metrics)));
      matches.add(route.match());
    }
    return RouteTable.of(compiled, matches);
  }

  /** Forgets the rate-limit buckets of rules that {@code config} no longer has. */
  public void retainRateLimitsOf(GatewayConfig config) {
    Map<String, List<GatewayConfig.RateLimit>> limits = new LinkedHashMap<>();
    config.routes().forEach(r -> limits.put(r.name(), r.rateLimits()));
    rateLimits.retainOnly(limits);
  }
}
