package io.meshgate.gateway.call;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.grpc.Status;
import java.nio.channels.ClosedChannelException;
import org.junit.jupiter.api.Test;

class TransportFailuresTest {
  @Test
  void aLostConnectionIsUnavailableButABackendsUnknownStaysUnknown() {
    Status lost = TransportFailures.normalize(Status.UNKNOWN.withDescription("channel closed")
        .withCause(new ClosedChannelException()));
    assertEquals(Status.Code.UNAVAILABLE, lost.getCode());
    assertEquals("the connection to the backend was lost: channel closed", lost.getDescription());

    Status fromBackend = Status.UNKNOWN.withDescription("the handler threw");
    assertSame(fromBackend, TransportFailures.normalize(fromBackend));
    Status other = Status.UNKNOWN.withCause(new IllegalStateException("bug"));
    assertSame(other, TransportFailures.normalize(other));
  }
}
