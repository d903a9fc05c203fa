package io.meshgate.resolver;

import io.grpc.LoadBalancer;
import java.util.Set;

/**
 * The {@code meshgate_least_request} policy. Power of two choices on calls in flight: each pick compares {@code choiceCount} (default 2) random ready instances and takes the one with the fewest outstanding calls per unit of weight.
 *
 * <p>Every Meshgate policy also takes {@code localZone} and {@code minLocalReadyPercent} (zone
 * preference with spill-over) and {@code outlierDetection} (passive ejection), honours
 * subchannel state and works with {@code healthCheckConfig}. Select it in a service config:
 * {@code {"loadBalancingConfig": [{"meshgate_least_request": {}}]}}. Registered through
 * {@code META-INF/services}.
 */
public final class LeastRequestLoadBalancerProvider extends MeshgateLoadBalancerProvider {
  /** The policy name: {@value}. */
  public static final String POLICY_NAME = "meshgate_least_request";

  /** Creates the provider; grpc-java's {@code ServiceLoader} calls this. */
  public LeastRequestLoadBalancerProvider() {
    super(POLICY_NAME, Set.of("choiceCount"));
  }

  @Override
  EndpointLoadBalancer create(LoadBalancer.Helper helper) {
    return new LeastRequestLoadBalancer(helper, System::nanoTime);
  }
}
