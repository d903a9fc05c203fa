package io.meshgate.resolver;

import io.grpc.LoadBalancer;
import java.util.Set;

/**
 * The {@code meshgate_zone_aware} policy: weighted round robin that keeps traffic in the client's
 * zone while at least {@code minLocalReadyPercent} (default 50) of the local instances are ready,
 * and spills over to every zone otherwise. The zone is {@code localZone}, else the
 * {@code meshgate.zone} system property, else the {@code MESHGATE_ZONE} environment variable;
 * the config is rejected when none is set. (Every Meshgate policy takes the same zone keys; this
 * one insists on them.)
 */
public final class ZoneAwareLoadBalancerProvider extends MeshgateLoadBalancerProvider {
  /** The policy name: {@value}. */
  public static final String POLICY_NAME = "meshgate_zone_aware";

  /** Creates the provider; grpc-java's {@code ServiceLoader} calls this. */
  public ZoneAwareLoadBalancerProvider() {
    super(POLICY_NAME, Set.of());
  }

  @Override
  EndpointLoadBalancer create(LoadBalancer.Helper helper) {
    return new WeightedRoundRobinLoadBalancer(helper, System::nanoTime);
  }

  @Override
  PolicyConfig check(PolicyConfig config) {
    if (config.localZone() == null) {
      throw new IllegalArgumentException("localZone is required (or set -D"
          + PolicyConfig.ZONE_PROPERTY + " or " + PolicyConfig.ZONE_ENV + ")");
    }
    return config;
  }
}
