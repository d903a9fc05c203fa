package io.meshgate.resolver;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;

/**
 * Power of two choices on outstanding requests: each pick compares {@code choiceCount} distinct
 * random instances (2 by default) and takes the one with the fewest calls in flight relative to
 * its weight. A slow instance accumulates calls in flight and is steered around, without the herd
 * effect of always choosing the global minimum.
 */
final class LeastRequestLoadBalancer extends EndpointLoadBalancer {
  private final IntUnaryOperator random;

  LeastRequestLoadBalancer(Helper helper, LongSupplier nanoTime, IntUnaryOperator random) {
    super(helper, nanoTime);
    this.random = random;
  }

  LeastRequestLoadBalancer(Helper helper, LongSupplier nanoTime) {
    this(helper, nanoTime, bound -> ThreadLocalRandom.current().nextInt(bound));
  }

  @Override
  SubchannelPicker newPicker(List<Endpoint> candidates, List<Endpoint> scope,
      PolicyConfig config) {
    return new Picker(candidates.toArray(new Endpoint[0]), config.choiceCount(), random);
  }

  static final class Picker extends SubchannelPicker {
    private final Endpoint[] endpoints;
    private final int choices;
    private final IntUnaryOperator random;
    private final int hash;

    Picker(Endpoint[] endpoints, int choices, IntUnaryOperator random) {
      this.endpoints = endpoints;
      this.choices = choices;
      this.random = random;
      this.hash = hash(List.of(endpoints)) * 31 + choices;
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      Endpoint chosen = next();
      return PickResult.withSubchannel(chosen.subchannel, chosen.tracerFactory);
    }

    Endpoint next() {
      int n = endpoints.length;
      if (n == 1) {
        return endpoints[0];
      }
      // Distinct random instances (drawn without replacement): with two instances, both are
      // always compared.
      int k = Math.min(choices, n);
      int[] chosen = new int[k];
      Endpoint best = null;
      for (int i = 0; i < k; i++) {
        int index = random.applyAsInt(n - i);
        // Map the draw onto the indices not chosen yet (chosen[0..i) is kept sorted).
        int j = 0;
        while (j < i && chosen[j] <= index) {
          index++;
          j++;
        }
        System.arraycopy(chosen, j, chosen, j + 1, i - j);
        chosen[j] = index;
        Endpoint candidate = endpoints[index];
        // Fewer outstanding per unit of weight wins: a / wa < b / wb, without division.
        if (best == null || (long) candidate.outstanding.get() * best.metadata.weight()
            < (long) best.outstanding.get() * candidate.metadata.weight()) {
          best = candidate;
        }
      }
      return best;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Picker other && other.hash == hash && other.choices == choices
          && sameEndpoints(List.of(other.endpoints), List.of(endpoints));
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
}
