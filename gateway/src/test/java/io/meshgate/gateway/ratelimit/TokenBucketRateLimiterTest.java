package io.meshgate.gateway.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Token buckets on a clock the test moves. */
class TokenBucketRateLimiterTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private void advance(long millis) {
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
  }

  @Test
  void aFullBucketAllowsTheBurstThenRefusesUntilItRefills() {
    TokenBucketRateLimiter limiter = new TokenBucketRateLimiter(10, 5, 100, now::get);
    for (int i = 4; i >= 0; i--) {
      TokenBucketRateLimiter.Decision d = limiter.tryAcquire("a");
      assertTrue(d.allowed());
      assertEquals(5, d.limit());
      assertEquals(i, d.remaining());
    }
    TokenBucketRateLimiter.Decision refused = limiter.tryAcquire("a");
    assertFalse(refused.allowed());
    assertEquals(TimeUnit.MILLISECONDS.toNanos(100), refused.retryAfterNanos(),
        "10 per second: the next token comes in 100 ms");
    assertEquals(TimeUnit.MILLISECONDS.toNanos(500), refused.resetNanos());

    advance(99);
    assertFalse(limiter.tryAcquire("a").allowed());
    advance(1);
    assertTrue(limiter.tryAcquire("a").allowed());
    assertFalse(limiter.tryAcquire("a").allowed());
  }

  @Test
  void refillStopsAtTheBurstAndKeysAreIndependent() {
    TokenBucketRateLimiter limiter = new TokenBucketRateLimiter(1, 2, 100, now::get);
    assertTrue(limiter.tryAcquire("a").allowed());
    assertTrue(limiter.tryAcquire("a").allowed());
    assertFalse(limiter.tryAcquire("a").allowed());
    assertTrue(limiter.tryAcquire("b").allowed(), "another key has its own bucket");
    advance(60_000);
    assertTrue(limiter.tryAcquire("a").allowed());
    assertTrue(limiter.tryAcquire("a").allowed());
    assertFalse(limiter.tryAcquire("a").allowed(), "a minute idle refills to the burst only");
  }

  @Test
  void sprayedKeysCannotGrowMemoryBeyondMaxKeys() {
    TokenBucketRateLimiter limiter = new TokenBucketRateLimiter(1, 1, 1_000, now::get);
    for (int i = 0; i < 200_000; i++) {
      limiter.tryAcquire("attacker-" + i);
    }
    assertTrue(limiter.size() <= 1_000, "buckets kept: " + limiter.size());
  }

  @Test
  void recentlyUsedKeysSurviveEviction() {
    TokenBucketRateLimiter limiter = new TokenBucketRateLimiter(1, 1, 1_600, now::get);
    assertTrue(limiter.tryAcquire("steady").allowed());
    for (int i = 0; i < 100_000; i++) {
      limiter.tryAcquire("noise-" + i);
      if (i % 5 == 0) {
        // The steady client keeps calling: its (empty) bucket stays, so it stays limited.
        assertFalse(limiter.tryAcquire("steady").allowed());
      }
    }
  }

  @Test
  void badSettingsAreProgrammerErrors() {
    assertThrows(IllegalArgumentException.class,
        () -> new TokenBucketRateLimiter(0, 1, 1, now::get));
    assertThrows(IllegalArgumentException.class,
        () -> new TokenBucketRateLimiter(1, 0, 1, now::get));
  }
}
