package io.meshgate.resolver;

import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerRegistry;
import io.grpc.Metadata;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The cost of one pick, per policy and number of instances. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PickerBenchmark {
  @Param({"meshgate_weighted_round_robin", "meshgate_least_request", "meshgate_ring_hash",
      "meshgate_zone_aware"})
  public String policy;

  @Param({"10", "100", "1000"})
  public int instances;

  private LoadBalancer.SubchannelPicker picker;
  private final Metadata[] keys = new Metadata[1024];
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    FakeHelper helper = new FakeHelper();
    LoadBalancer lb = switch (policy) {
      case "meshgate_least_request" -> new LeastRequestLoadBalancer(helper, System::nanoTime);
      case "meshgate_ring_hash" -> new RingHashLoadBalancer(helper, System::nanoTime);
      default -> new WeightedRoundRobinLoadBalancer(helper, System::nanoTime);
    };
    Map<String, ?> json = switch (policy) {
      case "meshgate_ring_hash" -> Map.of("hashHeader", "x-user");
      case "meshgate_zone_aware" -> Map.of("localZone", "z0");
      default -> Map.of();
    };
    Object config = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy)
        .parseLoadBalancingPolicyConfig(json).getConfig();
    EquivalentAddressGroup[] groups = new EquivalentAddressGroup[instances];
    for (int i = 0; i < instances; i++) {
      groups[i] = FakeHelper.instance(10_000 + i, 1 + i % 5, "z" + (i % 3));
    }
    helper.resolve(lb, null, config, groups);
    for (int i = 0; i < instances; i++) {
      helper.subchannel(10_000 + i).set(ConnectivityState.READY);
    }
    picker = helper.picker;
    for (int i = 0; i < keys.length; i++) {
      keys[i] = new Metadata();
      keys[i].put(Metadata.Key.of("x-user", Metadata.ASCII_STRING_MARSHALLER), "user-" + i);
    }
  }

  @Benchmark
  public Object pick() {
    Metadata headers = keys[next++ & (keys.length - 1)];
    return picker.pickSubchannel(FakeHelper.args(headers));
  }
}
