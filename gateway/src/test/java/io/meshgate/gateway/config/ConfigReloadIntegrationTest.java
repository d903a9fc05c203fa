package io.meshgate.gateway.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.upstream.UpstreamCluster;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.Observers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The configuration file changed while the gateway runs: good changes apply within a second,
 * keep unchanged clusters' channels and let calls in flight finish; broken ones are refused
 * while the running configuration keeps serving.
 */
@Timeout(60)
class ConfigReloadIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir
  static Path dir;
  private static SampleFleet fleet;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
  }

  @AfterAll
  static void stop() {
    if (fleet != null) {
      fleet.close();
    }
  }

  private static String config(boolean withEcho, String usersTimeout) {
    int users = fleet.server(SampleServer.Kind.USERS).port();
    int echo = fleet.server(SampleServer.Kind.ECHO).port();
    return """
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0}
        clusters:
          - {name: users, endpoints: [127.0.0.1:%d]}
          - {name: echo, endpoints: [127.0.0.1:%d]}
        routes:
          - {name: users, match: {service: meshgate.samples.users.v1.UserDirectory}, cluster: users, timeout: %s}
        """.formatted(users, echo, usersTimeout)
        + (withEcho ? "  - {name: echo, match: {service: meshgate.samples.echo.v1.EchoService},"
            + " cluster: echo}\n" : "");
  }

  /** Saves the way editors and deploy tools do: write a temp file, rename it over. */
  private static void save(Path file, String text) throws Exception {
    Path aside = file.resolveSibling(file.getFileName() + ".swp");
    Files.writeString(aside, text);
    Files.move(aside, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void savedChangesApplyLiveAndBrokenOnesAreRefused() throws Exception {
    Path file = dir.resolve("gateway.yaml");
    Files.writeString(file, config(false, "5s"));
    GatewayConfig initial = ConfigLoader.load(file);
    try (Gateway gateway = Gateway.start(initial)) {
      ManagedChannel channel = io.grpc.netty.NettyChannelBuilder
          .forTarget("127.0.0.1:" + gateway.port()).usePlaintext().build();
      List<String> outcomes = new CopyOnWriteArrayList<>();
      try (ConfigFileWatcher watcher = ConfigFileWatcher.start(file, Duration.ofMillis(50),
          gateway::apply, (ok, message) -> outcomes.add(ok + ": " + message))) {
        EchoServiceGrpc.EchoServiceBlockingStub echo = EchoServiceGrpc.newBlockingStub(channel);
        StatusRuntimeException unrouted = assertThrows(StatusRuntimeException.class,
            () -> echo.echo(EchoRequest.newBuilder().setMessage("x").build()));
        assertEquals(Status.Code.UNIMPLEMENTED, unrouted.getStatus().getCode());
        UpstreamCluster users = gateway.cluster("users");
        UserDirectoryGrpc.newBlockingStub(channel)
            .getUser(GetUserRequest.newBuilder().setUserId("u-1").build());

        save(file, config(true, "5s"));
        Await.until("the new route serves", WAIT, () -> {
          try {
            return echo.echo(EchoRequest.newBuilder().setMessage("hi").build()).getMessage()
                .equals("hi");
          } catch (StatusRuntimeException e) {
            return false;
          }
        });
        assertSame(users, gateway.cluster("users"), "an unchanged cluster keeps its channels");
        // The watcher reports a change once apply() returns, a moment after the swap that
        // made the route serve.
        Await.until("the change is reported", WAIT, () -> !outcomes.isEmpty());
        assertTrue(outcomes.get(outcomes.size() - 1).startsWith("true"), outcomes.toString());

        save(file, config(true, "5s").replace("clusters:", "clusters: [oops"));
        Await.until("the broken file is refused", WAIT,
            () -> outcomes.stream().anyMatch(o -> o.startsWith("false")));
        assertTrue(outcomes.get(outcomes.size() - 1).contains("gateway.yaml"),
            "the error names the file: " + outcomes);
        assertEquals("hi", echo.echo(EchoRequest.newBuilder().setMessage("hi").build())
            .getMessage(), "the running configuration keeps serving");

        save(file, config(true, "5s").replace("cluster: echo}", "cluster: nowhere}"));
        Await.until("the invalid reference is refused", WAIT, () -> outcomes.stream()
            .anyMatch(o -> o.contains("'nowhere' is not a defined cluster")));
        assertEquals("hi", echo.echo(EchoRequest.newBuilder().setMessage("hi").build())
            .getMessage());

        save(file, config(false, "6s"));
        Await.until("the removed route is gone", WAIT, () -> {
          try {
            echo.echo(EchoRequest.newBuilder().setMessage("hi").build());
            return false;
          } catch (StatusRuntimeException e) {
            return e.getStatus().getCode() == Status.Code.UNIMPLEMENTED;
          }
        });
        assertSame(users, gateway.cluster("users"), "a route change does not touch the cluster");
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void callsInFlightFinishOnTheClusterTheyStartedOn() throws Exception {
    Path file = dir.resolve("inflight.yaml");
    Files.writeString(file, config(true, "5s"));
    try (Gateway gateway = Gateway.start(ConfigLoader.load(file))) {
      ManagedChannel channel = io.grpc.netty.NettyChannelBuilder
          .forTarget("127.0.0.1:" + gateway.port()).usePlaintext().build();
      try {
        UpstreamCluster before = gateway.cluster("echo");
        CompletableFuture<EchoResponse> slow = new CompletableFuture<>();
        EchoServiceGrpc.newStub(channel).echo(EchoRequest.newBuilder().setMessage("slow")
            .setDelayMillis(3_000).build(), Observers.completing(slow));
        // The echo cluster changes (a connect timeout) and is replaced; the slow call started
        // on the old one, whose channels shut down (after a 2 s grace) while it is in flight,
        // and it must still get its answer.
        List<String> restart = gateway.apply(ConfigLoader.parse("inflight.yaml",
            config(true, "5s").replace("endpoints: [127.0.0.1:"
                + fleet.server(SampleServer.Kind.ECHO).port() + "]", "endpoints: [127.0.0.1:"
                + fleet.server(SampleServer.Kind.ECHO).port() + "], connectTimeout: 2s"),
            dir));
        assertEquals(List.of(), restart);
        assertNotSame(before, gateway.cluster("echo"));
        assertEquals("slow", slow.get(10, TimeUnit.SECONDS).getMessage());
        assertEquals("fast", EchoServiceGrpc.newBlockingStub(channel)
            .echo(EchoRequest.newBuilder().setMessage("fast").build()).getMessage());

        List<String> needsRestart = gateway.apply(ConfigLoader.parse("inflight.yaml",
            config(true, "5s").replace("workerThreads: 2", "workerThreads: 3"), dir));
        assertEquals(List.of("listener"), needsRestart, "ports and threads need a restart");
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}
