package io.meshgate.resolver;

import com.google.common.hash.Hashing;
import io.grpc.Metadata;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Consistent hashing on a request header: calls with the same header value go to the same
 * instance, and when an instance joins or leaves only about 1/N of the keys move (and only to or
 * from that instance). Each instance owns {@code pointsPerWeight × weight} ring entries, placed by
 * hashing its address, as ketama does; a key goes to the first entry at or after its hash,
 * walking on past instances that are not ready (so a reconnecting instance lends its keys to its
 * neighbours and gets them back). Calls without the header get a random key.
 */
final class RingHashLoadBalancer extends EndpointLoadBalancer {
  RingHashLoadBalancer(Helper helper, LongSupplier nanoTime) {
    super(helper, nanoTime);
  }

  @Override
  SubchannelPicker newPicker(List<Endpoint> candidates, List<Endpoint> scope,
      PolicyConfig config) {
    return new Picker(scope, candidates, config);
  }

  /** The 64-bit hash of a key, as the ring uses it. */
  static long hash(String key) {
    return Hashing.murmur3_128().hashString(key, StandardCharsets.UTF_8).asLong();
  }

  static final class Picker extends SubchannelPicker {
    private final long[] hashes;
    private final Endpoint[] owners;
    private final Set<Endpoint> ready;
    private final Metadata.Key<String> header;
    private final List<Endpoint> scope;
    private final int[] weights;
    private final int hash;

    Picker(List<Endpoint> scope, List<Endpoint> candidates, PolicyConfig config) {
      this.scope = scope;
      this.ready = Collections.newSetFromMap(new IdentityHashMap<>());
      this.ready.addAll(candidates);
      this.header = config.hashHeader() == null ? null
          : Metadata.Key.of(config.hashHeader(), Metadata.ASCII_STRING_MARSHALLER);
      long totalWeight = 0;
      this.weights = new int[scope.size()];
      for (int i = 0; i < scope.size(); i++) {
        weights[i] = scope.get(i).metadata.weight();
        totalWeight += weights[i];
      }
      // Entries depend on the instance's own weight; only past maxRingSize are all scaled alike.
      double scale = Math.min(1.0,
          (double) config.maxRingSize() / (totalWeight * config.pointsPerWeight()));
      long[] ringHashes = new long[0];
      Endpoint[] ringOwners = new Endpoint[0];
      int count = 0;
      for (Endpoint endpoint : scope) {
        int entries = (int) Math.max(1,
            Math.floor(endpoint.metadata.weight() * (double) config.pointsPerWeight() * scale));
        if (count + entries > ringHashes.length) {
          int capacity = Math.max(count + entries, ringHashes.length * 2);
          ringHashes = Arrays.copyOf(ringHashes, capacity);
          ringOwners = Arrays.copyOf(ringOwners, capacity);
        }
        String address = endpoint.group.getAddresses().get(0).toString();
        for (int i = 0; i < entries; i++) {
          ringHashes[count] = RingHashLoadBalancer.hash(address + "_" + i);
          ringOwners[count] = endpoint;
          count++;
        }
      }
      Integer[] order = new Integer[count];
      for (int i = 0; i < count; i++) {
        order[i] = i;
      }
      long[] unsorted = ringHashes;
      Arrays.sort(order, (a, b) -> Long.compare(unsorted[a], unsorted[b]));
      this.hashes = new long[count];
      this.owners = new Endpoint[count];
      for (int i = 0; i < count; i++) {
        hashes[i] = ringHashes[order[i]];
        owners[i] = ringOwners[order[i]];
      }
      this.hash = EndpointLoadBalancer.hash(scope) * 31 + EndpointLoadBalancer.hash(candidates)
          + Arrays.hashCode(weights) + (header == null ? 0 : header.name().hashCode());
    }

    @Override
    public PickResult pickSubchannel(PickSubchannelArgs args) {
      String key = header == null ? null : args.getHeaders().get(header);
      Endpoint chosen = owner(key == null ? ThreadLocalRandom.current().nextLong() : hash(key));
      return PickResult.withSubchannel(chosen.subchannel, chosen.tracerFactory);
    }

    /** The first ready instance at or after {@code keyHash} on the ring. */
    Endpoint owner(long keyHash) {
      int start = Arrays.binarySearch(hashes, keyHash);
      if (start < 0) {
        start = -start - 1;
      }
      for (int i = 0; i < owners.length; i++) {
        Endpoint owner = owners[(start + i) % owners.length];
        if (ready.contains(owner)) {
          return owner;
        }
      }
      throw new IllegalStateException("no ready instance on the ring");
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Picker other && other.hash == hash
          && sameEndpoints(other.scope, scope) && Arrays.equals(other.weights, weights)
          && other.ready.equals(ready)
          && java.util.Objects.equals(other.header, header);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
}
