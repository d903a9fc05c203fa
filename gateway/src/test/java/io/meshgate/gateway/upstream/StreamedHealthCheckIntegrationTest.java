package io.meshgate.gateway.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A cluster with {@code healthCheck:} streams through the gateway's own connections like any
 * other (a message over the whole-message limit passes), and its endpoints are chosen by what
 * they answer on {@code grpc.health.v1.Health/Watch} over those connections: one that turns
 * NOT_SERVING gets no calls until it is SERVING again; with none serving, calls fail naming it;
 * an endpoint without the health service counts as healthy.
 */
@Timeout(120)
class StreamedHealthCheckIntegrationTest {
  private static final int MIB = 1024 * 1024;

  private static EchoServiceGrpc.EchoServiceBlockingStub stub(ManagedChannel channel) {
    return EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** Who answered each of {@code calls} calls. */
  private static Set<String> servedBy(ManagedChannel channel, int calls) {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < calls; i++) {
      seen.add(stub(channel).echo(EchoRequest.newBuilder().setMessage("hi").build())
          .getServedBy());
    }
    return seen;
  }

  @Test
  void callsGoOnlyToEndpointsThatSayServing() throws Exception {
    try (SampleServer a = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
        SampleServer b = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
        TestGateway gateway = TestGateway.start("""
            clusters:
              - name: echo
                endpoints: ["127.0.0.1:%d", "127.0.0.1:%d"]
                lbPolicy: round_robin
                healthCheck: {serviceName: ""}
            routes: [{match: {servicePrefix: ""}, cluster: echo}]
            """.formatted(a.port(), b.port()))) {
      ManagedChannel channel = gateway.track(NettyChannelBuilder.forTarget(gateway.address())
          .usePlaintext().maxInboundMessageSize(64 * MIB).build());
      String atA = "127.0.0.1:" + a.port();
      String atB = "127.0.0.1:" + b.port();
      Await.until("both endpoints serve", Duration.ofSeconds(30),
          () -> servedBy(channel, 10).equals(Set.of(atA, atB)));

      // Streamed through the gateway's own connections: 6 MiB, over the 4 MiB whole-message
      // limit that calls on grpc-java channels have.
      byte[] payload = new byte[6 * MIB];
      EchoResponse big = stub(channel).echo(EchoRequest.newBuilder()
          .setPayload(ByteString.copyFrom(payload)).build());
      assertEquals(payload.length, big.getPayload().size());

      a.health().setStatus("", ServingStatus.NOT_SERVING);
      Await.until("calls leave the endpoint that says NOT_SERVING", Duration.ofSeconds(10),
          () -> servedBy(channel, 20).equals(Set.of(atB)));

      b.health().setStatus("", ServingStatus.NOT_SERVING);
      StatusRuntimeException none = Await.until("no endpoint serves", Duration.ofSeconds(10),
          () -> {
            try {
              stub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                  .echo(EchoRequest.newBuilder().setMessage("anyone?").build());
              return null;
            } catch (StatusRuntimeException e) {
              return e;
            }
          }, e -> e != null && e.getStatus().getCode() == Status.Code.UNAVAILABLE);
      assertTrue(none.getStatus().getDescription().contains("NOT_SERVING"),
          none.getStatus().toString());

      a.health().setStatus("", ServingStatus.SERVING);
      b.health().setStatus("", ServingStatus.SERVING);
      // Until the gateway has heard SERVING, calls still fail UNAVAILABLE: not yet.
      Await.until("both serve again", Duration.ofSeconds(10), () -> {
        try {
          return servedBy(channel, 10).equals(Set.of(atA, atB));
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
            throw e;
          }
          return false;
        }
      });
    }
  }

  @Test
  void anEndpointWithoutTheHealthServiceCountsAsHealthy() throws Exception {
    Server plain = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("plain", null))
        .build().start();
    try (TestGateway gateway = TestGateway.start("""
        clusters:
          - name: echo
            endpoints: ["127.0.0.1:%d"]
            healthCheck: {serviceName: ""}
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(plain.getPort()))) {
      assertEquals("plain", stub(gateway.channel())
          .echo(EchoRequest.newBuilder().setMessage("hi").build()).getServedBy());
    } finally {
      plain.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
