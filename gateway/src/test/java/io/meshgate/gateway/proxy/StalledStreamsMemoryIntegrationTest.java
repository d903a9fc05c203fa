package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.StallingClient;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.netty.buffer.PooledByteBufAllocator;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that opens server streams and never grants them window (SETTINGS_INITIAL_WINDOW_SIZE
 * 0, no WINDOW_UPDATE) makes the gateway hold what the backend already sent: that must stay
 * within the flow-control windows per stream, not grow to megabytes each.
 */
@Timeout(120)
class StalledStreamsMemoryIntegrationTest {
  private static final int STREAMS = 1_000;
  private static final int CONNECTIONS = 5;
  private static final int MESSAGE_BYTES = 64 * 1024;
  private static final int WINDOW_BYTES = 256 * 1024;

  private static long poolBytes() {
    return PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory()
        + PooledByteBufAllocator.DEFAULT.metric().usedHeapMemory();
  }

  @Test
  void stalledStreamsHoldNoMoreThanTheirWindows() throws Exception {
    SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    try (TestGateway gateway = TestGateway.start("""
        limits: {streamWindowBytes: 256KiB, connectionWindowBytes: 1MiB}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(echo.port()))) {
      long before = poolBytes();
      long messagesBefore = echo.echo().messagesStreamed();
      StallingClient stalling = StallingClient.open(gateway.port(), CONNECTIONS, STREAMS,
          MESSAGE_BYTES);
      try {
        // The backend sends until the windows between it and the client are full, then stops.
        long settled = Await.settled("messages the backend streamed", Duration.ofSeconds(1),
            Duration.ofSeconds(60), () -> echo.echo().messagesStreamed());
        long held = poolBytes() - before;
        long sent = (settled - messagesBefore) * MESSAGE_BYTES;
        // Per stalled stream: the upstream stream's window of received messages, and the one
        // message waiting for the client's window; half again for the allocator's rounding.
        long bound = STREAMS * (WINDOW_BYTES + MESSAGE_BYTES) * 3 / 2;
        System.out.printf("stalled: %d streams, backend sent %d MiB, gateway pools hold %d MiB"
            + " (bound %d MiB)%n", STREAMS, sent >> 20, held >> 20, bound >> 20);
        assertTrue(sent <= (long) STREAMS * (WINDOW_BYTES + 2L * MESSAGE_BYTES),
            "the backend could send " + (sent >> 20) + " MiB: upstream windows are not bounded");
        assertTrue(held < bound, "the gateway holds " + (held >> 20) + " MiB for " + STREAMS
            + " stalled streams (bound " + (bound >> 20) + " MiB)");
        assertTrue(EchoServiceGrpc.newBlockingStub(gateway.channel())
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("still served").build())
            .getMessage().equals("still served"));
      } finally {
        stalling.close();
      }
      // The stalled clients gone (the normal client's connection stays): what their streams
      // pinned is free again; the pools keep the chunks for reuse.
      Await.until("the stalled clients' connections are closed", Duration.ofSeconds(30),
          () -> gateway.gateway().openConnections() <= 1);
      Await.until("the buffers of the stalled streams are released", Duration.ofSeconds(30),
          () -> PooledByteBufAllocator.DEFAULT.pinnedDirectMemory() < 16L << 20);
      System.out.printf("after the clients left: buffers in use %d MiB, pools %d MiB more than"
          + " before%n", PooledByteBufAllocator.DEFAULT.pinnedDirectMemory() >> 20,
          (poolBytes() - before) >> 20);
    } finally {
      echo.close();
    }
  }
}
