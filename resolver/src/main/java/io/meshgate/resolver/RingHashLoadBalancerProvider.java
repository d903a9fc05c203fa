package io.meshgate.resolver;

import io.grpc.LoadBalancer;
import java.util.Set;

/**
 * The {@code meshgate_ring_hash} policy. Consistent hashing on the request header named by {@code hashHeader}: the same value goes to the same instance, and only about 1/N of the values move when an instance joins or leaves. Each instance gets {@code pointsPerWeight} (default 160) ring entries per unit of weight; {@code maxRingSize} (default 65536) caps the ring.
 *
 * <p>Every Meshgate policy also takes {@code localZone} and {@code minLocalReadyPercent} (zone
 * preference with spill-over) and {@code outlierDetection} (passive ejection), honours
 * subchannel state and works with {@code healthCheckConfig}. Select it in a service config:
 * {@code {"loadBalancingConfig": [{"meshgate_ring_hash": {}}]}}. Registered through
 * {@code META-INF/services}.
 */
public final class RingHashLoadBalancerProvider extends MeshgateLoadBalancerProvider {
  /** The policy name: {@value}. */
  public static final String POLICY_NAME = "meshgate_ring_hash";

  /** Creates the provider; grpc-java's {@code ServiceLoader} calls this. */
  public RingHashLoadBalancerProvider() {
    super(POLICY_NAME, Set.of("hashHeader", "pointsPerWeight", "maxRingSize"));
  }

  @Override
  EndpointLoadBalancer create(LoadBalancer.Helper helper) {
    return new RingHashLoadBalancer(helper, System::nanoTime);
  }
}
