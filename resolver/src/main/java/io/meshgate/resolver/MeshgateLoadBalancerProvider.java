package io.meshgate.resolver;

import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import io.grpc.protobuf.services.HealthCheckingLoadBalancerUtil;
import java.util.Map;
import java.util.Set;

/**
 * What our load-balancing policy providers share: config parsing into {@link PolicyConfig} and
 * grpc's client-side health checking around the balancer (active when the service config has
 * {@code healthCheckConfig}).
 */
abstract class MeshgateLoadBalancerProvider extends LoadBalancerProvider {
  private final String name;
  private final Set<String> ownKeys;

  MeshgateLoadBalancerProvider(String name, Set<String> ownKeys) {
    this.name = name;
    this.ownKeys = ownKeys;
  }

  /** A balancer without health checking. */
  abstract EndpointLoadBalancer create(LoadBalancer.Helper helper);

  @Override
  public final boolean isAvailable() {
    return true;
  }

  @Override
  public final int getPriority() {
    return 5;
  }

  @Override
  public final String getPolicyName() {
    return name;
  }

  @Override
  public final LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    return HealthCheckingLoadBalancerUtil.newHealthCheckingLoadBalancer(
        new LoadBalancer.Factory() {
          @Override
          public LoadBalancer newLoadBalancer(LoadBalancer.Helper wrapped) {
            return create(wrapped);
          }
        }, helper);
  }

  /**
   * Parses the policy's config; an error names the key and what was expected.
   */
  @Override
  public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> raw) {
    try {
      return ConfigOrError.fromConfig(check(PolicyConfig.parse(name, raw, ownKeys)));
    } catch (IllegalArgumentException e) {
      return ConfigOrError.fromError(Status.INVALID_ARGUMENT.withDescription(
          name + " config: " + e.getMessage()));
    }
  }

  /** Checks a parsed config further; throws IllegalArgumentException if it cannot work. */
  PolicyConfig check(PolicyConfig config) {
    return config;
  }
}
