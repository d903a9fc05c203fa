package io.meshgate.gateway.route;

import io.meshgate.gateway.auth.JwtAuthenticator;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.ratelimit.RateLimitPolicy;
import io.meshgate.gateway.upstream.UpstreamCluster;

/**
 * A compiled route: where matching calls go and which deadline rules apply.
 *
 * @param name for logs and metrics
 * @param cluster the upstream cluster calls are sent to
 * @param defaultTimeoutNanos deadline applied when the client sends none; 0 for none
 * @param maxTimeoutNanos cap on the client's deadline; 0 for no cap
 * @param rest how REST calls of the route are transcoded; null for the global settings
 * @param auth who may call it; null for a public route
 * @param rateLimit how often it may be called; null for no limit
 */
public record Route(String name, UpstreamCluster cluster, long defaultTimeoutNanos,
    long maxTimeoutNanos, GatewayConfig.RestOptions rest, JwtAuthenticator auth,
    RateLimitPolicy rateLimit) {

  /** Compiles a configured route against its resolved cluster and policies. */
  public static Route of(GatewayConfig.Route config, UpstreamCluster cluster,
      JwtAuthenticator auth, RateLimitPolicy rateLimit) {
    return new Route(config.name(), cluster,
        config.timeout() == null ? 0 : config.timeout().toNanos(),
        config.maxTimeout() == null ? 0 : config.maxTimeout().toNanos(), config.rest(), auth,
        rateLimit);
  }

  /**
   * The deadline to apply upstream, in nanoseconds from now, given the client's (or -1 when the
   * client sent none); 0 means no deadline.
   */
  public long effectiveTimeoutNanos(long clientTimeoutNanos) {
    long timeout = clientTimeoutNanos >= 0 ? clientTimeoutNanos : defaultTimeoutNanos;
    if (maxTimeoutNanos > 0 && (timeout == 0 || timeout > maxTimeoutNanos)) {
      return maxTimeoutNanos;
    }
    return timeout;
  }
}
