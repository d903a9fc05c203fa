package io.meshgate.gateway.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gateway's clusters discover their instances in etcd (etcd:///echo) and balance with the
 * resolver module's policies: registered sample services take traffic by weight, new ones join,
 * deregistered ones leave.
 */
class DiscoveryIntegrationTest {
  private EtcdCluster etcd;
  private final List<SampleServer> servers = new ArrayList<>();
  private TestGateway gateway;

  @BeforeEach
  void start() {
    etcd = EtcdCluster.start(1);
  }

  @AfterEach
  void stop() throws Exception {
    if (gateway != null) {
      gateway.close();
    }
    for (SampleServer server : servers) {
      server.close();
    }
    etcd.close();
  }

  private SampleServer echo(int weight) throws Exception {
    SampleServer server = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    servers.add(server);
    server.register(etcd.endpoints(), "127.0.0.1", b -> b.weight(weight));
    return server;
  }

  private static Map<Integer, Integer> served(ManagedChannel channel, int calls) {
    Map<Integer, Integer> counts = new HashMap<>();
    var stub = EchoServiceGrpc.newBlockingStub(channel);
    for (int i = 0; i < calls; i++) {
      String by = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("x").build()).getServedBy();
      counts.merge(Integer.parseInt(by.substring(by.lastIndexOf(':') + 1)), 1, Integer::sum);
    }
    return counts;
  }

  private static Set<Integer> servedBy(ManagedChannel channel) {
    try {
      return served(channel, 40).keySet();
    } catch (StatusRuntimeException e) {
      return Set.of();
    }
  }

  @Test
  void clusterFollowsTheRegistryWithWeights() throws Exception {
    SampleServer light = echo(1);
    SampleServer heavy = echo(3);
    gateway = TestGateway.start("""
        discovery:
          etcd: {endpoints: [%s]}
        clusters:
          - name: echo
            target: etcd:///echo
            lbPolicy: meshgate_weighted_round_robin
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(String.join(", ", etcd.endpoints())));
    ManagedChannel channel = gateway.channel();
    Await.until("both instances take calls", Duration.ofSeconds(30), () -> servedBy(channel),
        s -> s.equals(Set.of(light.port(), heavy.port())));

    Map<Integer, Integer> counts = served(channel, 400);
    // Each gateway event loop has its own channel (and rotation): the ratio holds overall.
    assertEquals(100, counts.get(light.port()), 12.0, counts.toString());
    assertEquals(300, counts.get(heavy.port()), 12.0, counts.toString());

    SampleServer third = echo(1);
    Await.until("a newly registered instance takes calls", Duration.ofSeconds(30),
        () -> servedBy(channel), s -> s.contains(third.port()));

    light.close(); // deregisters first
    Await.until("a deregistered instance leaves", Duration.ofSeconds(30),
        () -> servedBy(channel), s -> s.equals(Set.of(heavy.port(), third.port())));
  }

  @Test
  void serviceWithNoInstancesIsUnavailableNamingTheCluster() throws Exception {
    gateway = TestGateway.start("""
        clusters:
          - name: ghosts
            target: etcd://%s/ghosts
            lbPolicy: meshgate_least_request
        routes: [{match: {servicePrefix: ""}, cluster: ghosts}]
        """.formatted(etcd.authority()));
    StatusRuntimeException e = Await.until("an UNAVAILABLE answer", Duration.ofSeconds(30), () -> {
      try {
        EchoServiceGrpc.newBlockingStub(gateway.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.getDefaultInstance());
        return null;
      } catch (StatusRuntimeException failure) {
        return failure;
      }
    }, failure -> failure != null && failure.getStatus().getCode() == Status.Code.UNAVAILABLE);
    assertTrue(e.getStatus().getDescription().contains("cluster 'ghosts'"), e.toString());
  }
}
