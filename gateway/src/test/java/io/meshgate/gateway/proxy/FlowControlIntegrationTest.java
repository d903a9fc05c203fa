package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A slow reader slows the backend down through the gateway: the gateway stops reading from the
 * backend when the client stops reading, so what is in flight is bounded by the flow-control
 * windows, not by what the backend would send.
 */
class FlowControlIntegrationTest {
  private static final int MESSAGE_BYTES = 64 * 1024;
  private static final int MESSAGES = 4096; // 256 MiB in all

  private SampleServer echo;
  private TestGateway gateway;

  @BeforeEach
  void start() throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    gateway = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(echo.port()));
  }

  @AfterEach
  void stop() throws Exception {
    gateway.close();
    echo.close();
  }

  @Test
  void clientThatStopsReadingStopsTheBackend() {
    ManagedChannel channel = gateway.channel();
    ClientCall<EchoRequest, EchoResponse> call = channel.newCall(
        EchoServiceGrpc.getExpandMethod(), CallOptions.DEFAULT.withDeadlineAfter(60,
            TimeUnit.SECONDS));
    AtomicLong received = new AtomicLong();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(EchoResponse message) {
        received.incrementAndGet();
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.sendMessage(EchoRequest.newBuilder()
        .setResponseCount(MESSAGES).setResponseSize(MESSAGE_BYTES).build());
    call.halfClose();
    call.request(1);

    // The client has asked for one message and reads no more. The backend may fill the windows
    // on the way (client, gateway front, gateway upstream: a few MiB each) and must then stop.
    long stalledAt = Await.settled("the backend's sent count", Duration.ofMillis(500),
        Duration.ofSeconds(30), () -> echo.echo().messagesStreamed());
    long stalledBytes = stalledAt * MESSAGE_BYTES;
    assertTrue(stalledBytes < 16L * 1024 * 1024,
        "the backend sent " + stalledBytes + " bytes to a client that read one message");
    assertTrue(stalledAt < MESSAGES, "the backend was never held back");
    assertEquals(1, received.get());

    // Reading again lets everything through, in full.
    call.request(MESSAGES);
    Status status = closed.join();
    assertTrue(status.isOk(), status.toString());
    assertEquals(MESSAGES, received.get());
  }
}
