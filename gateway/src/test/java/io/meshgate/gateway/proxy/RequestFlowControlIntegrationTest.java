package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.HeldUploads;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.testing.Await;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The request direction of flow control: a backend that stops reading a client stream stops the
 * client after the HTTP/2 windows on the way are full (the gateway reads from the client only
 * while the upstream stream takes more), not after everything was sent into the gateway; once the
 * backend reads again, every message arrives.
 */
class RequestFlowControlIntegrationTest {
  private static final int MESSAGE_BYTES = 64 * 1024;
  private static final int MESSAGES = 1024; // 64 MiB in all

  @Test
  void aBackendThatStopsReadingStopsTheClientAtTheWindows() throws Exception {
    try (HeldUploads backend = HeldUploads.start();
        TestGateway gateway = TestGateway.start("""
            clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
            routes: [{match: {servicePrefix: ""}, cluster: echo}]
            """.formatted(backend.port()))) {
      AtomicLong sent = new AtomicLong();
      CompletableFuture<String> answer =
          HeldUploads.upload(gateway.channel(), MESSAGES, MESSAGE_BYTES, sent, 60);

      long stalledAt = Await.settled("messages the client could send", Duration.ofSeconds(1),
          Duration.ofSeconds(30), sent::get);
      long stalledBytes = stalledAt * MESSAGE_BYTES;
      System.out.printf("request flow control: the client stopped after %d KiB of %d MiB%n",
          stalledBytes >> 10, ((long) MESSAGES * MESSAGE_BYTES) >> 20);
      assertEquals(0, backend.received(), "the backend has read nothing yet");
      // The gateway's stream window (1 MiB), the backend's (1 MiB), what the gateway sends
      // ahead of the upstream stream and what the client buffers: a few MiB, not 64.
      assertTrue(stalledBytes < 8L << 20, "the client sent " + (stalledBytes >> 10)
          + " KiB into a backend that reads nothing: the gateway did not hold it back");

      backend.readAll();
      assertEquals(Integer.toString(MESSAGES), answer.get(60, TimeUnit.SECONDS),
          "every message arrives once the backend reads");
    }
  }
}
