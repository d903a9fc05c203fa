package io.meshgate.resolver;

import static io.meshgate.resolver.FakeHelper.instance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerRegistry;
import io.grpc.Metadata;
import io.grpc.NameResolver.ConfigOrError;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a policy configured with {@code statesName} reports: every endpoint with its registry
 * metadata, connectivity and problem, calls in flight as they change, merged over the
 * balancers of one name; nothing once they shut down.
 */
class EndpointStatesTest {
  private static final String NAME = "endpoint-states-test";

  @AfterEach
  void forget() {
    EndpointStates.remove(NAME);
  }

  private static PolicyConfig config(String policy) {
    ConfigOrError parsed = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy)
        .parseLoadBalancingPolicyConfig(Map.of("statesName", NAME));
    return (PolicyConfig) parsed.getConfig();
  }

  private static EndpointStates.EndpointState at(int port) {
    return EndpointStates.named(NAME).endpoints().stream()
        .filter(e -> e.address().equals("127.0.0.1:" + port)).findFirst().orElseThrow();
  }

  @Test
  void aPolicyReportsItsEndpointsAsTheyChange() {
    FakeHelper helper = new FakeHelper();
    LoadBalancer lb = new WeightedRoundRobinLoadBalancer(helper, helper.clock::nanoTime);
    helper.resolve(lb, null, config("meshgate_weighted_round_robin"),
        instance(1, 3, "zone-a"), instance(2, 1, "zone-b"));
    assertEquals(2, EndpointStates.named(NAME).endpoints().size());
    assertEquals("zone-a", at(1).zone());
    assertEquals(3, at(1).weight());
    helper.subchannel(1).set(ConnectivityState.READY);
    helper.subchannel(2).set(ConnectivityState.TRANSIENT_FAILURE);
    assertEquals("READY", at(1).connectivity());
    assertNull(at(1).problem());
    assertEquals("TRANSIENT_FAILURE", at(2).connectivity());
    assertTrue(at(2).problem().contains("UNAVAILABLE"), at(2).problem());

    // Calls in flight are read when shown, not when reported.
    LoadBalancer.PickResult pick = helper.picker.pickSubchannel(FakeHelper.args(new Metadata()));
    io.grpc.ClientStreamTracer call = pick.getStreamTracerFactory().newClientStreamTracer(
        io.grpc.ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
    assertEquals(1, at(1).inFlight());
    call.streamClosed(io.grpc.Status.OK);
    assertEquals(0, at(1).inFlight());

    // A second balancer of the same name (another channel) adds its view of the same endpoint.
    FakeHelper other = new FakeHelper();
    LoadBalancer second = new WeightedRoundRobinLoadBalancer(other, other.clock::nanoTime);
    other.resolve(second, null, config("meshgate_weighted_round_robin"), instance(1, 3, "zone-a"));
    assertEquals(2, at(1).balancers());
    assertEquals("READY", at(1).connectivity(), "the best state of the two");

    helper.syncContext.execute(lb::shutdown);
    other.syncContext.execute(second::shutdown);
    assertEquals(List.of(), EndpointStates.named(NAME).endpoints());
  }

  @Test
  void aNameIsNeeded() {
    assertThrows(IllegalArgumentException.class, () -> EndpointStates.named(" "));
  }
}
