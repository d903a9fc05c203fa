package io.meshgate.gateway.route;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.upstream.UpstreamCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * Which cluster a call of a route goes to: the first canary rule whose header or JWT claim
 * matches the call, else a weighted random pick over the split (one cluster: always that one).
 * Immutable and thread-safe; a new weight takes effect with the route table it comes in.
 */
public final class ClusterChoice {
  private final UpstreamCluster[] clusters;
  private final int[] cumulative;
  private final int total;
  private final List<Canary> canaries;

  private record Canary(String header, String claim, String value, UpstreamCluster cluster) {}

  private ClusterChoice(UpstreamCluster[] clusters, int[] cumulative, List<Canary> canaries) {
    this.clusters = clusters;
    this.cumulative = cumulative;
    this.total = cumulative.length == 0 ? 0 : cumulative[cumulative.length - 1];
    this.canaries = canaries;
  }

  /** The choice of a configured route, over the running clusters by name. */
  public static ClusterChoice of(GatewayConfig.Route route, Map<String, UpstreamCluster> byName) {
    List<GatewayConfig.WeightedCluster> split = route.split().isEmpty()
        ? List.of(new GatewayConfig.WeightedCluster(route.cluster(), 1)) : route.split();
    List<UpstreamCluster> picked = new ArrayList<>();
    List<Integer> bounds = new ArrayList<>();
    int sum = 0;
    for (GatewayConfig.WeightedCluster w : split) {
      if (w.weight() > 0) {
        sum += w.weight();
        picked.add(byName.get(w.cluster()));
        bounds.add(sum);
      }
    }
    List<Canary> canaries = new ArrayList<>();
    for (GatewayConfig.CanaryRule rule : route.canary()) {
      canaries.add(new Canary(rule.header(), rule.claim(), rule.value(),
          byName.get(rule.cluster())));
    }
    return new ClusterChoice(picked.toArray(UpstreamCluster[]::new),
        bounds.stream().mapToInt(Integer::intValue).toArray(), List.copyOf(canaries));
  }

  /**
   * Picks the cluster of one call.
   *
   * @param headers a request header by lower-case name, or null
   * @param claims a verified JWT claim as text, or null
   */
  public UpstreamCluster pick(Function<String, String> headers, Function<String, String> claims) {
    for (Canary canary : canaries) {
      String actual = canary.header() != null ? headers.apply(canary.header())
          : claims.apply(canary.claim());
      if (canary.value().equals(actual)) {
        return canary.cluster();
      }
    }
    if (clusters.length == 1) {
      return clusters[0];
    }
    int r = ThreadLocalRandom.current().nextInt(total);
    for (int i = 0; i < cumulative.length; i++) {
      if (r < cumulative[i]) {
        return clusters[i];
      }
    }
    return clusters[clusters.length - 1];
  }
}
