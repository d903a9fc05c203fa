package io.meshgate.gateway.telemetry;

import io.meshgate.resolver.internal.DiscoveryMetrics;

/** The meters of the etcd resolvers of this process, read when scraped. */
public final class DiscoveryMeters {
  private DiscoveryMeters() {}

  /** Registers the discovery meters with {@code metrics}. */
  public static void register(GatewayMetrics metrics) {
    metrics.functionCounter("meshgate.discovery.list.failures", "etcd listings that failed",
        DiscoveryMetrics::listFailures);
    metrics.functionCounter("meshgate.discovery.watch.failures", "etcd watches that broke",
        DiscoveryMetrics::watchFailures);
    metrics.functionCounter("meshgate.discovery.relists", "etcd listings redone after a"
        + " broken watch", DiscoveryMetrics::relists);
    metrics.gauge("meshgate.discovery.unreachable.resolvers", "etcd resolvers serving their last"
        + " known endpoints because etcd cannot be reached", DiscoveryMetrics.class,
        c -> DiscoveryMetrics.unreachableResolvers());
  }
}
