package io.meshgate.gateway.route;

import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.upstream.UpstreamCluster;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One configuration as it runs: the validated configuration, the upstream clusters built for it,
 * the route table compiled over those clusters and the JWT providers its routes verify tokens
 * with. Immutable. A reload builds the next one off the data path and publishes it with one
 * reference swap; a call reads it once, at its start, so that it never sees a route table of one
 * configuration with the clusters or providers of another.
 *
 * @param config the configuration
 * @param clusters the clusters by name, in configuration order (unmodifiable)
 * @param routes the compiled routes
 * @param auth the JWT providers (also strips client-sent claim headers from every call)
 * @param version 1 for the configuration the gateway started with, one more per applied change
 * @param appliedAt when it was applied
 */
public record Running(GatewayConfig config, Map<String, UpstreamCluster> clusters,
    RouteTable routes, Authentication auth, long version, Instant appliedAt) {

  public Running {
    clusters = Collections.unmodifiableMap(new LinkedHashMap<>(clusters));
  }
}
