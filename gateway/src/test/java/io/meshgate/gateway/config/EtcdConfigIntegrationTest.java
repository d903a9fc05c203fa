package io.meshgate.gateway.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two gateways sharing one configuration in a real etcd: every change reaches both and they
 * serve the same revision; a broken document is refused by both while they keep serving; a
 * change made through one gateway's admin API reaches the other.
 */
@Timeout(90)
class EtcdConfigIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final String PREFIX = "/meshgate/test/";
  private static final String TOKEN = "an-admin-token-in-etcd-config";
  private static EtcdCluster etcd;
  private static SampleFleet fleet;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdCluster.start(1);
    fleet = SampleFleet.start();
  }

  @AfterAll
  static void stop() {
    if (fleet != null) {
      fleet.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  private static String document(boolean withEcho) {
    return """
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0, token: %s}
        clusters:
          - {name: echo, endpoints: [127.0.0.1:%d]}
        routes:
        """.formatted(TOKEN, fleet.server(SampleServer.Kind.ECHO).port())
        + (withEcho ? "  - {name: echo, match: {service: meshgate.samples.echo.v1.EchoService},"
            + " cluster: echo}\n" : "  []\n");
  }

  private static void put(String text) throws Exception {
    etcd.client().getKVClient().put(ByteSequence.from(PREFIX + "gateway.yaml",
        StandardCharsets.UTF_8), ByteSequence.from(text, StandardCharsets.UTF_8))
        .get(10, TimeUnit.SECONDS);
  }

  /** A gateway run the way bin/meshgate --config-etcd runs it. */
  private record Instance(Gateway gateway, EtcdConfigSource source, ManagedChannel channel,
      List<String> outcomes) implements AutoCloseable {
    static Instance start() throws Exception {
      EtcdConfigSource source = EtcdConfigSource.connect(etcd.endpoints(), PREFIX);
      EtcdConfigSource.Loaded loaded = source.load();
      Gateway gateway = Gateway.start(loaded.config());
      List<String> outcomes = new CopyOnWriteArrayList<>();
      source.watch(loaded, gateway::apply, (ok, message) -> outcomes.add(ok + ": " + message));
      gateway.useStore(ConfigStore.etcd(source));
      gateway.useRevision(source::revision);
      ManagedChannel channel = io.grpc.netty.NettyChannelBuilder
          .forTarget("127.0.0.1:" + gateway.port()).usePlaintext().build();
      return new Instance(gateway, source, channel, outcomes);
    }

    boolean echoServes() {
      try {
        return EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("x").build()).getMessage().equals("x");
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
          throw e;
        }
        return false;
      }
    }

    @Override
    public void close() {
      channel.shutdownNow();
      source.close();
      gateway.close();
    }
  }

  @Test
  void etcdGoingAwayKeepsTheRunningConfigurationAndChangesApplyWhenItIsBack() throws Exception {
    put(document(true));
    try (Instance a = Instance.start()) {
      assertTrue(a.echoServes());
      etcd.stop(0);
      try {
        for (int i = 0; i < 20; i++) {
          assertTrue(a.echoServes(), "still serving with etcd down");
        }
      } finally {
        etcd.restart(0);
      }
      put(document(false));
      Await.until("a change made after etcd came back applies", WAIT, () -> !a.echoServes());
    }
  }

  @Test
  void twoGatewaysConvergeOnEveryChangeAndRefuseBrokenOnes() throws Exception {
    put(document(false));
    try (Instance a = Instance.start(); Instance b = Instance.start()) {
      List<Instance> both = List.of(a, b);
      for (Instance i : both) {
        assertTrue(!i.echoServes(), "no echo route yet");
      }
      for (int change = 0; change < 6; change++) {
        boolean withEcho = change % 2 == 0;
        put(document(withEcho));
        for (Instance i : both) {
          Await.until("change " + change + " serves", WAIT, () -> i.echoServes() == withEcho);
        }
        Await.until("both serve the same revision", WAIT,
            () -> a.source().revision() == b.source().revision());
      }
      long revision = a.source().revision();

      put("routes: [ this is not YAML");
      for (Instance i : both) {
        Await.until("the broken document is refused", WAIT,
            () -> i.outcomes().stream().anyMatch(o -> o.startsWith("false")));
        assertEquals(revision, i.source().revision(), "still serving the last good revision");
        assertTrue(!i.echoServes(), "and its routes");
      }

      // A change through one gateway's admin API goes to etcd, so the other gets it too.
      HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + a.gateway().adminPort() + "/api/routes/echo"))
          .header("authorization", "Bearer " + TOKEN)
          .PUT(HttpRequest.BodyPublishers.ofString("{\"match\": {\"service\":"
              + " \"meshgate.samples.echo.v1.EchoService\"}, \"cluster\": \"echo\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      // The stored document is broken: the API refuses to build on it.
      assertEquals(500, response.statusCode(), response.body());

      put(document(false));
      Await.until("a good document again", WAIT, () -> a.source().revision() > revision
          && b.source().revision() == a.source().revision());
      response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + a.gateway().adminPort() + "/api/routes/echo"))
          .header("authorization", "Bearer " + TOKEN)
          .PUT(HttpRequest.BodyPublishers.ofString("{\"match\": {\"service\":"
              + " \"meshgate.samples.echo.v1.EchoService\"}, \"cluster\": \"echo\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode(), response.body());
      assertTrue(a.echoServes(), "applied on the gateway that took the change");
      Await.until("the other gateway gets it through etcd", WAIT, b::echoServes);
      HttpResponse<String> config = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + b.gateway().adminPort() + "/api/config"))
          .header("authorization", "Bearer " + TOKEN).build(),
          HttpResponse.BodyHandlers.ofString());
      assertTrue(config.body().contains("\"revision\":" + a.source().revision()),
          config.body());
    }
  }
}
