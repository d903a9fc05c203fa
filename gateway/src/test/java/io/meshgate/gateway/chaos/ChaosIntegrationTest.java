package io.meshgate.gateway.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.maintenance.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.meshgate.gateway.testing.BackendProcess;
import io.meshgate.gateway.testing.CallLoad;
import io.meshgate.gateway.testing.GatewayProcess;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import io.meshgate.testing.FreePorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults under load, with real processes: a backend killed with SIGKILL, the etcd leader of a
 * three-member cluster killed, one of two gateways drained with SIGTERM. In each, clients keep
 * calling throughout and not one call fails. Bounded in calls and time, loopback only.
 */
@Timeout(180)
class ChaosIntegrationTest {
  private static final int CALLERS = 4;

  private static EchoRequest request(String message) {
    // A few milliseconds at the backend, so that calls are in flight when the fault strikes.
    return EchoRequest.newBuilder().setMessage(message).setDelayMillis(5).build();
  }

  private static CallLoad echoLoad(io.grpc.Channel channel, long maxCalls) {
    var stub = EchoServiceGrpc.newBlockingStub(channel);
    return CallLoad.start(CALLERS, maxCalls, () -> {
      String answer = stub.withDeadlineAfter(20, TimeUnit.SECONDS).echo(request("chaos"))
          .getMessage();
      if (!answer.equals("chaos")) {
        throw new AssertionError("wrong answer: " + answer);
      }
    });
  }

  @Test
  void aBackendKilledMidLoadCostsNoCallBehindARouteWithRetries() throws Exception {
    try (BackendProcess doomed = BackendProcess.startEcho();
        BackendProcess survivor = BackendProcess.startEcho();
        TestGateway gateway = TestGateway.start("""
            clusters: [{name: echo, endpoints: ["127.0.0.1:%d", "127.0.0.1:%d"]}]
            routes:
              - match: {servicePrefix: ""}
                cluster: echo
                timeout: 20s
                retry: {codes: [UNAVAILABLE], maxAttempts: 5, initialBackoff: 10ms,
                        maxBackoff: 100ms, budget: {ratio: 1.0, minPerSecond: 1000}}
            """.formatted(doomed.port(), survivor.port()))) {
      CallLoad load = echoLoad(gateway.channel(), 3_000);
      try {
        load.awaitSucceeded(500, Duration.ofSeconds(60));
        doomed.kill();
        long atKill = load.succeeded();
        load.awaitSucceeded(atKill + 1_000, Duration.ofSeconds(60));
      } finally {
        load.close();
      }
      double retries = Metrics.scrape(gateway.gateway().adminPort())
          .sum("meshgate_retries_total");
      System.out.printf("backend SIGKILL: %d calls, %d failed, %.0f retried%n",
          load.succeeded(), load.failures().size(), retries);
      assertEquals(List.of(), load.failures(), "no call failed");
    }
  }

  @Test
  void theEtcdLeaderKilledMidLoadCostsNoCallAndDiscoveryGoesOn() throws Exception {
    try (EtcdCluster etcd = EtcdCluster.start(3)) {
      List<SampleServer> backends = new ArrayList<>();
      try {
        for (int i = 0; i < 2; i++) {
          SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
          backends.add(echo);
          echo.register(etcd.endpoints(), "127.0.0.1", b -> b.ttl(Duration.ofSeconds(15)))
              .awaitRegistered(Duration.ofSeconds(20));
        }
        try (TestGateway gateway = TestGateway.start("""
            discovery: {etcd: {endpoints: [%s]}}
            clusters: [{name: echo, target: "etcd:///%s"}]
            routes: [{match: {servicePrefix: ""}, cluster: echo, timeout: 20s}]
            """.formatted(String.join(", ", etcd.endpoints()),
            backends.get(0).registryName()))) {
          CallLoad load = echoLoad(gateway.channel(), 4_000);
          try {
            load.awaitSucceeded(300, Duration.ofSeconds(60));
            int leader = leaderIndex(etcd);
            etcd.kill(leader);
            long atKill = load.succeeded();
            load.awaitSucceeded(atKill + 500, Duration.ofSeconds(60));
            // A backend that registers after the leader is gone is found through the others.
            SampleServer late = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
            backends.add(late);
            late.register(etcd.endpoints(), "127.0.0.1", b -> b.ttl(Duration.ofSeconds(15)));
            Await.until("the backend registered after the leader's death gets calls",
                Duration.ofSeconds(60), () -> late.echo().callsStarted() > 20);
            System.out.printf("etcd leader (member %d) SIGKILL: %d calls, %d failed%n", leader,
                load.succeeded(), load.failures().size());
          } finally {
            load.close();
          }
          assertEquals(List.of(), load.failures(), "no call failed");
        }
      } finally {
        backends.forEach(SampleServer::close);
      }
    }
  }

  /** The member that etcd's members agree is the leader. */
  private static int leaderIndex(EtcdCluster etcd) throws Exception {
    var maintenance = etcd.client().getMaintenanceClient();
    StatusResponse any = maintenance.statusMember(etcd.endpoint(0)).get(10, TimeUnit.SECONDS);
    long leader = any.getLeader();
    for (int i = 0; i < etcd.endpoints().size(); i++) {
      StatusResponse status = maintenance.statusMember(etcd.endpoint(i))
          .get(10, TimeUnit.SECONDS);
      if (status.getHeader().getMemberId() == leader) {
        return i;
      }
    }
    throw new AssertionError("no member is the leader " + Long.toHexString(leader));
  }

  @Test
  void oneOfTwoGatewaysDrainedMidLoadCostsClientsNoCall(@TempDir Path dir) throws Exception {
    SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    int[] ports = {FreePorts.next(), FreePorts.next()};
    int[] admins = {FreePorts.next(), FreePorts.next()};
    List<GatewayProcess> gateways = new ArrayList<>();
    ManagedChannel client = null;
    try {
      for (int i = 0; i < 2; i++) {
        Path config = dir.resolve("gateway" + i + ".yaml");
        Files.writeString(config, """
            listener: {host: 127.0.0.1, port: %d}
            admin: {port: %d}
            shutdown: {readinessGrace: 0s, drainTimeout: 10s}
            clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
            routes: [{match: {servicePrefix: ""}, cluster: echo}]
            """.formatted(ports[i], admins[i], echo.port()));
        gateways.add(GatewayProcess.start(config, admins[i]));
      }
      // A plain grpc-java client over both gateways, with grpc's defaults (transparent retry).
      client = ManagedChannelBuilder
          .forTarget("static:///127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1])
          .defaultLoadBalancingPolicy("round_robin")
          .usePlaintext()
          .build();
      CallLoad load = echoLoad(client, 4_000);
      try {
        load.awaitSucceeded(300, Duration.ofSeconds(60));
        gateways.get(0).terminate();
        assertTrue(gateways.get(0).process().waitFor(30, TimeUnit.SECONDS),
            "the drained gateway exits");
        assertEquals(0, gateways.get(0).process().exitValue(), gateways.get(0).output());
        long atExit = load.succeeded();
        load.awaitSucceeded(atExit + 500, Duration.ofSeconds(60));
      } finally {
        load.close();
      }
      System.out.printf("gateway SIGTERM: %d calls, %d failed%n", load.succeeded(),
          load.failures().size());
      assertEquals(List.of(), load.failures(), "no call failed");
    } finally {
      if (client != null) {
        client.shutdownNow();
      }
      for (GatewayProcess gateway : gateways) {
        gateway.close();
      }
      echo.close();
    }
  }
}
