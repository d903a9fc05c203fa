package io.meshgate.gateway.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.meshgate.gateway.resilience.RetryPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class MirroredCallTest {
  /** A call that records what it was sent; ready or not as the test says. */
  private static final class Recording extends ClientCall<byte[], byte[]> {
    final List<Integer> sent = new ArrayList<>();
    boolean ready;
    String cancelled;

    @Override
    public void start(Listener<byte[]> listener, Metadata headers) {}

    @Override
    public void request(int numMessages) {}

    @Override
    public void cancel(String message, Throwable cause) {
      cancelled = message;
    }

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(byte[] message) {
      sent.add(message.length);
    }

    @Override
    public boolean isReady() {
      return ready;
    }
  }

  private final Recording primary = new Recording();
  private final Recording mirror = new Recording();
  private final AtomicInteger dropped = new AtomicInteger();

  private MirroredCall<byte[], byte[]> call() {
    return new MirroredCall<>(primary, mirror, new Metadata(),
        RetryPolicy.Replay.BYTE_ARRAYS, new AtomicInteger(1), dropped::incrementAndGet);
  }

  @Test
  void aMirrorThatIsNotReadyIsDroppedPastAMegabyteAndThePrimaryGetsEverything() {
    MirroredCall<byte[], byte[]> call = call();
    call.sendMessage(new byte[3 << 20]); // the first, whatever its size
    call.sendMessage(new byte[10]);
    call.sendMessage(new byte[10]);
    assertEquals(List.of(3 << 20), mirror.sent);
    assertNotNull(mirror.cancelled, "dropped: it would have held more than 1 MiB");
    assertEquals(1, dropped.get(), "counted once");
    assertEquals(List.of(3 << 20, 10, 10), primary.sent);
  }

  @Test
  void aMirrorThatIsNotReadyTakesSixteenSmallMessages() {
    MirroredCall<byte[], byte[]> call = call();
    for (int i = 0; i < 20; i++) {
      call.sendMessage(new byte[100]);
    }
    assertEquals(MirroredCall.MAX_UNREADY, mirror.sent.size());
    assertEquals(1, dropped.get());
    assertEquals(20, primary.sent.size());
  }

  @Test
  void aReadyMirrorTakesEverything() {
    mirror.ready = true;
    MirroredCall<byte[], byte[]> call = call();
    for (int i = 0; i < 40; i++) {
      call.sendMessage(new byte[1 << 20]);
    }
    assertEquals(40, mirror.sent.size());
    assertNull(mirror.cancelled);
    assertEquals(0, dropped.get());
  }
}
