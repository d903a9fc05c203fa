package io.meshgate.resolver;

import java.util.List;
import java.util.function.LongSupplier;

/**
 * Smooth weighted round robin, as nginx does it: on each pick every instance's current weight
 * grows by its weight, the largest wins and gives back the total. Instances are spread evenly
 * through the rotation (weights 5:1:1 give a,a,b,a,c,a,a — never five in a row). Weights come
 * from the registry ({@link InstanceMetadata#weight()}) and are read at each pick, so a changed
 * weight takes effect at once, and the current weights live on the instances, so the rotation
 * goes on where it was when the picker is rebuilt.
 */
final class WeightedRoundRobinLoadBalancer extends EndpointLoadBalancer {
  // Guards Endpoint.currentWeight of every instance of this balancer.
  private final Object rotation = new Object();

  WeightedRoundRobinLoadBalancer(Helper helper, LongSupplier nanoTime) {
    super(helper, nanoTime);
  }

  @Override
  SubchannelPicker newPicker(List<Endpoint> candidates, List<Endpoint> scope,
      PolicyConfig config) {
    return new Picker(candidates.toArray(new Endpoint[0]), rotation);
  }

  static final class Picker extends SubchannelPicker {
    private final Endpoint[] endpoints;
    private final Object rotation;
    private final int hash;

    Picker(Endpoint[] endpoints, Object rotation) {
      this.endpoints = endpoints;
      this.rotation = rotation;
      this.hash = hash(List.of(endpoints));
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      Endpoint chosen = next();
      return PickResult.withSubchannel(chosen.subchannel, chosen.tracerFactory);
    }

    Endpoint next() {
      synchronized (rotation) {
        long total = 0;
        Endpoint best = null;
        for (Endpoint endpoint : endpoints) {
          int weight = endpoint.metadata.weight();
          endpoint.currentWeight += weight;
          total += weight;
          if (best == null || endpoint.currentWeight > best.currentWeight) {
            best = endpoint;
          }
        }
        best.currentWeight -= total;
        return best;
      }
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Picker other && other.hash == hash
          && sameEndpoints(List.of(other.endpoints), List.of(endpoints));
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
}
