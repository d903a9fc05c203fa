package io.meshgate.gateway.route;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.meshgate.gateway.auth.JwtAuthenticator;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.ratelimit.RateLimitPolicy;
import io.meshgate.gateway.resilience.FallbackCall;
import io.meshgate.gateway.resilience.HedgingPolicy;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.upstream.UpstreamCluster;
import io.netty.util.concurrent.EventExecutor;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

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
 * @param retry how failed calls are retried; null for no retries
 * @param choice which cluster each call goes to (canary rules, weighted split); null: always
 *     {@code cluster}
 * @param principals the client certificate names the route admits (empty: any client)
 * @param hedging how calls are hedged; null for no hedging (a route retries or hedges)
 * @param answers the route's cache and fallback; null for neither
 */
public record Route(String name, UpstreamCluster cluster, long defaultTimeoutNanos,
    long maxTimeoutNanos, GatewayConfig.RestOptions rest, JwtAuthenticator auth,
    RateLimitPolicy rateLimit, RetryPolicy retry, ClusterChoice choice,
    java.util.List<String> principals, HedgingPolicy hedging, FallbackCall.Plan answers) {

  public Route {
    principals = principals == null ? java.util.List.of() : java.util.List.copyOf(principals);
  }

  /** A route without hedging, cache or fallback. */
  public Route(String name, UpstreamCluster cluster, long defaultTimeoutNanos,
      long maxTimeoutNanos, GatewayConfig.RestOptions rest, JwtAuthenticator auth,
      RateLimitPolicy rateLimit, RetryPolicy retry, ClusterChoice choice,
      java.util.List<String> principals) {
    this(name, cluster, defaultTimeoutNanos, maxTimeoutNanos, rest, auth, rateLimit, retry,
        choice, principals, null, null);
  }

  /** Compiles a configured route against the running clusters and its policies. */
  public static Route of(GatewayConfig.Route config, Map<String, UpstreamCluster> clusters,
      JwtAuthenticator auth, RateLimitPolicy rateLimit, RetryPolicy retry,
      HedgingPolicy hedging, FallbackCall.Plan answers) {
    ClusterChoice choice = config.split().isEmpty() && config.canary().isEmpty() ? null
        : ClusterChoice.of(config, clusters);
    return new Route(config.name(), clusters.get(config.cluster()),
        config.timeout() == null ? 0 : config.timeout().toNanos(),
        config.maxTimeout() == null ? 0 : config.maxTimeout().toNanos(), config.rest(), auth,
        rateLimit, retry, choice, config.auth() == null ? null : config.auth().principals(),
        hedging, answers);
  }

  /**
   * The cluster of one call.
   *
   * @param claims a verified JWT claim as text, or null
   */
  public UpstreamCluster pick(RequestView request, Function<String, String> claims) {
    return choice == null ? cluster : choice.pick(request::header, claims);
  }

  /**
   * Starts a call to the route's cluster, retried or hedged by the route's policy.
   *
   * @param loop the client stream's event loop: attempts start and retries wait there
   * @param replay how request messages are kept for another attempt
   * @param idempotent whether the method may be sent more than once at a time (hedging)
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(UpstreamCluster cluster,
      MethodDescriptor<ReqT, RespT> method, CallOptions options, EventExecutor loop,
      RetryPolicy.Replay<ReqT> replay, boolean idempotent) {
    return newCall(attempt -> cluster.newCall(method, attempt, loop), options, loop, replay,
        idempotent);
  }

  /**
   * As {@link #newCall(UpstreamCluster, MethodDescriptor, CallOptions, EventExecutor,
   * RetryPolicy.Replay, boolean)}, each attempt made by {@code attempts} (a streamed call's
   * "messages" are its DATA chunks, replayed the same way).
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      java.util.function.Function<CallOptions, ClientCall<ReqT, RespT>> attempts,
      CallOptions options, EventExecutor loop, RetryPolicy.Replay<ReqT> replay,
      boolean idempotent) {
    if (hedging != null && (idempotent || hedging.hedgesNonIdempotent())) {
      return hedging.wrap(attempts::apply, options, replay,
          (task, delayNanos) -> loop.schedule(task, delayNanos, TimeUnit.NANOSECONDS));
    }
    if (retry == null) {
      return attempts.apply(options);
    }
    return retry.wrap(attempts::apply, options, replay,
        (task, delayNanos) -> loop.schedule(task, delayNanos, TimeUnit.NANOSECONDS));
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
