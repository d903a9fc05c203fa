package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Native calls streamed through on the gateway's own upstream connections (the default): a
 * message far over the whole-message limit passes with the defaults, the cluster's policy
 * chooses among those connections, and a backend that goes away is left for the others.
 */
@Timeout(120)
class StreamedProxyIntegrationTest {
  private static final int MIB = 1024 * 1024;

  private static EchoServiceGrpc.EchoServiceBlockingStub stub(ManagedChannel channel) {
    return EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  @Test
  void aMessageTenTimesTheWholeMessageLimitPassesBothWaysWithTheDefaults() throws Exception {
    try (SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
        TestGateway gateway = TestGateway.start("""
            clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
            routes: [{match: {servicePrefix: ""}, cluster: echo}]
            """.formatted(echo.port()))) {
      ManagedChannel channel = gateway.track(NettyChannelBuilder.forTarget(gateway.address())
          .usePlaintext().maxInboundMessageSize(64 * MIB).build());
      byte[] payload = new byte[40 * MIB]; // limits.maxMessageBytes is 4 MiB
      new Random(17).nextBytes(payload);
      EchoResponse response = stub(channel).echo(EchoRequest.newBuilder()
          .setPayload(ByteString.copyFrom(payload)).build());
      assertArrayEquals(payload, response.getPayload().toByteArray());
      // Streamed: the record still counts the messages and their bytes, by the length prefixes.
      Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
      assertEquals(1.0, metrics.sum("meshgate_request_messages_total"), "request messages");
      assertEquals(1.0, metrics.sum("meshgate_response_messages_total"), "response messages");
    }
  }

  @Test
  void aRouteThatRetriesAndMirrorsStreamsTooItsRetriesWithinTheirBuffer() throws Exception {
    try (SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
        SampleServer shadow = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
        TestGateway gateway = TestGateway.start("""
            clusters:
              - {name: echo, endpoints: ["127.0.0.1:%d"]}
              - {name: shadow, endpoints: ["127.0.0.1:%d"]}
            routes:
              - match: {servicePrefix: ""}
                cluster: echo
                retry: {codes: [UNAVAILABLE], maxAttempts: 3}
                mirror: {cluster: shadow}
            """.formatted(echo.port(), shadow.port()))) {
      ManagedChannel channel = gateway.track(NettyChannelBuilder.forTarget(gateway.address())
          .usePlaintext().maxInboundMessageSize(16 * MIB).build());
      // Over the 4 MiB whole-message limit, over the retry's 64 KiB buffer: streamed, not kept.
      byte[] payload = new byte[6 * MIB];
      new Random(3).nextBytes(payload);
      EchoResponse response = stub(channel).echo(EchoRequest.newBuilder()
          .setPayload(ByteString.copyFrom(payload)).build());
      assertArrayEquals(payload, response.getPayload().toByteArray());
      assertEquals("small", stub(channel).echo(EchoRequest.newBuilder().setMessage("small")
          .build()).getMessage());
      // The mirror gets its copies streamed too (a big one it cannot keep up with is dropped,
      // never the primary).
      Await.until("the mirror got a copy", Duration.ofSeconds(10),
          () -> shadow.echo().callsStarted() >= 1);
    }
  }

  @Test
  void theClustersPolicyChoosesAmongTheGatewaysConnectionsAndLeavesAGoneBackend()
      throws Exception {
    SampleServer a = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    try (SampleServer b = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
        TestGateway gateway = TestGateway.start("""
            clusters:
              - {name: echo, endpoints: ["127.0.0.1:%d", "127.0.0.1:%d"],
                 lbPolicy: meshgate_least_request}
            routes: [{match: {servicePrefix: ""}, cluster: echo}]
            """.formatted(a.port(), b.port()))) {
      ManagedChannel channel = gateway.channel();
      Set<String> servedBy = new HashSet<>();
      Await.until("both endpoints serve", Duration.ofSeconds(20), () -> {
        servedBy.add(stub(channel).echo(EchoRequest.newBuilder().setMessage("x").build())
            .getServedBy());
        return servedBy.size() == 2;
      });
      assertEquals(Set.of("127.0.0.1:" + a.port(), "127.0.0.1:" + b.port()), servedBy);
      String clusters = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
              + gateway.gateway().adminPort() + "/api/clusters")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).body();
      assertTrue(clusters.contains("127.0.0.1:" + a.port()) && clusters.contains("READY"),
          "the policy reports its endpoints over the gateway's connections: " + clusters);

      a.close();
      // The connection to a drops; its subchannel leaves the picker and calls go to b.
      int[] inARow = {0};
      Await.until("ten calls in a row served by b", Duration.ofSeconds(20), () -> {
        try {
          String by = stub(channel).echo(EchoRequest.newBuilder().setMessage("y").build())
              .getServedBy();
          inARow[0] = by.equals("127.0.0.1:" + b.port()) ? inARow[0] + 1 : 0;
        } catch (StatusRuntimeException e) {
          assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
          inARow[0] = 0;
        }
        return inARow[0] >= 10;
      });
    } finally {
      a.close();
    }
  }
}
