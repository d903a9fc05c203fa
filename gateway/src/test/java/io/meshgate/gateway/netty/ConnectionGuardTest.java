package io.meshgate.gateway.netty;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.config.GatewayConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConnectionGuardTest {
  private static final long SECOND = Duration.ofSeconds(1).toNanos();
  private final ConnectionGuard guard = new ConnectionGuard(
      new GatewayConfig.RapidReset(10, 0.5, Duration.ofSeconds(1)),
      new ConnectionCuts(new AbuseMemory(new GatewayConfig.AbuseBan(3, Duration.ofMinutes(1),
          Duration.ofSeconds(10), Duration.ofMinutes(10), 100), System::nanoTime),
          System::nanoTime));

  @Test
  void tripsOnceHalfOfEnoughStreamsWereResetRightAway() {
    for (int i = 0; i < 9; i++) {
      guard.onStreamOpened();
      assertFalse(guard.onClientReset(1_000, false), "tripped before minStreams");
    }
    guard.onStreamOpened();
    assertTrue(guard.onClientReset(1_000, false));
    assertTrue(guard.isTripped());
    guard.onStreamOpened();
    assertFalse(guard.onClientReset(1_000, false), "reported twice");
  }

  @Test
  void clientThatCancelsSomeCallsIsNotAnAttacker() {
    for (int i = 0; i < 1000; i++) {
      guard.onStreamOpened();
      if (i % 3 == 0) {
        assertFalse(guard.onClientReset(1_000, false));
      }
    }
    assertFalse(guard.isTripped());
  }

  @Test
  void resetsOfLongLivedOrAnsweredStreamsAreNotPremature() {
    for (int i = 0; i < 100; i++) {
      guard.onStreamOpened();
      assertFalse(guard.onClientReset(2 * SECOND, false));
      guard.onStreamOpened();
      assertFalse(guard.onClientReset(1_000, true));
    }
    assertFalse(guard.isTripped());
  }
}
