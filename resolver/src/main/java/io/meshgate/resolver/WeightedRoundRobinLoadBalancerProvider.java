package io.meshgate.resolver;

import io.grpc.LoadBalancer;
import java.util.Set;

/**
 * The {@code meshgate_weighted_round_robin} policy. Smooth weighted round robin over the registry weights (the nginx algorithm): weights 5:1:1 give a,a,b,a,c,a,a. Weights come from {@link InstanceMetadata#weight()} and change live without resetting the rotation.
 *
 * <p>Every Meshgate policy also takes {@code localZone} and {@code minLocalReadyPercent} (zone
 * preference with spill-over) and {@code outlierDetection} (passive ejection), honours
 * subchannel state and works with {@code healthCheckConfig}. Select it in a service config:
 * {@code {"loadBalancingConfig": [{"meshgate_weighted_round_robin": {}}]}}. Registered through
 * {@code META-INF/services}.
 */
public final class WeightedRoundRobinLoadBalancerProvider extends MeshgateLoadBalancerProvider {
  /** The policy name: {@value}. */
  public static final String POLICY_NAME = "meshgate_weighted_round_robin";

  /** Creates the provider; grpc-java's {@code ServiceLoader} calls this. */
  public WeightedRoundRobinLoadBalancerProvider() {
    super(POLICY_NAME, Set.of());
  }

  @Override
  EndpointLoadBalancer create(LoadBalancer.Helper helper) {
    return new WeightedRoundRobinLoadBalancer(helper, System::nanoTime);
  }
}
