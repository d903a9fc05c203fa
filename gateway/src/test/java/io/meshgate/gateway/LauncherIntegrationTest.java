package io.meshgate.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.testing.GatewayProcess;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.FreePorts;
import io.meshgate.testing.Observers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/meshgate as an operator runs it: help, bad configs, SIGTERM and graceful drain. */
class LauncherIntegrationTest {
  @TempDir
  Path dir;

  private SampleServer echo;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    echo.close();
  }

  @Test
  void helpExplainsEveryOption() throws Exception {
    GatewayProcess.Result result = GatewayProcess.run(List.of("--help"), Duration.ofSeconds(30));
    assertEquals(0, result.exitCode());
    for (String option : List.of("--config", "--log-level", "--help", "--version", "validate",
        "SIGTERM")) {
      assertTrue(result.output().contains(option), option + " missing from:\n" + result.output());
    }
  }

  @Test
  void missingConfigFileExitsNonZeroNamingTheFile() throws Exception {
    Path missing = dir.resolve("nope.yaml");
    GatewayProcess.Result result = GatewayProcess.run(List.of("--config", missing.toString()),
        Duration.ofSeconds(30));
    assertEquals(1, result.exitCode());
    assertTrue(result.output().contains(missing + ": file not found"), result.output());
  }

  @Test
  void brokenConfigExitsNonZeroWithPlaceAndExpectation() throws Exception {
    Path config = dir.resolve("broken.yaml");
    Files.writeString(config, """
        listener: {port: 8080}
        clusters:
          - name: users
            endpoints: [127.0.0.1:50051]
        routes:
          - match: {service: acme.Users}
            cluster: payments
        """);
    GatewayProcess.Result result = GatewayProcess.run(List.of("--config", config.toString()),
        Duration.ofSeconds(30));
    assertEquals(1, result.exitCode());
    assertTrue(result.output().contains(config + ":7:14: routes[0].cluster: 'payments' is not a"
        + " defined cluster (defined: users)"), result.output());
  }

  @Test
  void validateCommandReportsEveryError() throws Exception {
    Path config = dir.resolve("typos.yaml");
    Files.writeString(config, """
        listener: {port: 99999}
        clusterz: []
        """);
    GatewayProcess.Result result = GatewayProcess.run(List.of("validate", config.toString()),
        Duration.ofSeconds(30));
    assertEquals(1, result.exitCode());
    assertTrue(result.output().contains("2 configuration errors"), result.output());
    assertTrue(result.output().contains("listener.port: 99999 is out of range"), result.output());
    assertTrue(result.output().contains("clusterz: unknown key"), result.output());

    Path good = GatewayProcess.root().resolve("samples/config/demo.yaml");
    GatewayProcess.Result ok = GatewayProcess.run(List.of("validate", good.toString()),
        Duration.ofSeconds(30));
    assertEquals(0, ok.exitCode(), ok.output());
  }

  @Test
  void validateLoadsDescriptorSetsToo() throws Exception {
    Path broken = dir.resolve("broken.pb");
    Files.writeString(broken, "not protobuf");
    Path config = dir.resolve("rest.yaml");
    Files.writeString(config, """
        listener: {port: 8080}
        transcoding: {descriptors: [broken.pb]}
        """);
    GatewayProcess.Result result = GatewayProcess.run(List.of("validate", config.toString()),
        Duration.ofSeconds(30));
    assertEquals(1, result.exitCode());
    assertTrue(result.output().contains("transcoding.descriptors: " + broken
        + ": not a FileDescriptorSet"), result.output());
  }

  private Path config(int port, int admin, String drainTimeout) throws Exception {
    Path config = dir.resolve("gateway.yaml");
    Files.writeString(config, """
        listener: {host: 127.0.0.1, port: %d}
        admin: {host: 127.0.0.1, port: %d}
        shutdown: {readinessGrace: 300ms, drainTimeout: %s}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(port, admin, drainTimeout, echo.port()));
    return config;
  }

  @Test
  void sigtermDrainsCallsInFlightThenExitsZero() throws Exception {
    int port = FreePorts.next();
    int admin = FreePorts.next();
    try (GatewayProcess gateway = GatewayProcess.start(config(port, admin, "10s"), admin)) {
      channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
      long started = echo.echo().callsStarted();
      CompletableFuture<EchoResponse> inFlight = new CompletableFuture<>();
      EchoServiceGrpc.newStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("finish me").setDelayMillis(2000).build(),
              Observers.completing(inFlight));
      Await.until("the call reaches the backend", Duration.ofSeconds(10),
          () -> echo.echo().callsStarted() > started);

      gateway.terminate();
      Await.until("/readyz turns 503", Duration.ofSeconds(10),
          () -> gateway.adminStatus(admin, "/readyz") == 503);
      assertEquals(200, gateway.adminStatus(admin, "/healthz"));
      Await.until("the gateway stops accepting new calls", Duration.ofSeconds(10),
          () -> newCallFails(port));

      assertEquals("finish me", inFlight.get(20, TimeUnit.SECONDS).getMessage());
      assertTrue(gateway.process().waitFor(20, TimeUnit.SECONDS), "the gateway did not exit");
      assertEquals(0, gateway.process().exitValue(), gateway.output());
      assertTrue(gateway.output().contains("draining"), gateway.output());
    }
  }

  @Test
  void drainTimeoutCutsCallsThatWouldNeverFinish() throws Exception {
    int port = FreePorts.next();
    int admin = FreePorts.next();
    try (GatewayProcess gateway = GatewayProcess.start(config(port, admin, "1s"), admin)) {
      channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
      long started = echo.echo().callsStarted();
      CompletableFuture<EchoResponse> hanging = new CompletableFuture<>();
      EchoServiceGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setHang(true).build(), Observers.completing(hanging));
      Await.until("the call reaches the backend", Duration.ofSeconds(10),
          () -> echo.echo().callsStarted() > started);

      gateway.terminate();
      assertTrue(gateway.process().waitFor(20, TimeUnit.SECONDS), "the gateway did not exit");
      assertEquals(0, gateway.process().exitValue(), gateway.output());
      Throwable failure = Await.until("the cut call fails", Duration.ofSeconds(10),
          () -> hanging.handle((v, t) -> t).getNow(null), t -> t != null);
      assertNotEquals(Status.Code.OK, Status.fromThrowable(failure).getCode());
      assertFalse(gateway.process().isAlive());
    }
  }

  private static boolean newCallFails(int port) {
    ManagedChannel fresh = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .build();
    try {
      EchoServiceGrpc.newBlockingStub(fresh).withDeadlineAfter(2, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("new").build());
      return false;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode() == Status.Code.UNAVAILABLE;
    } finally {
      fresh.shutdownNow();
    }
  }
}
