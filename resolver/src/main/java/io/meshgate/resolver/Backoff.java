package io.meshgate.resolver;

import java.time.Duration;
import java.util.Random;

/**
 * Exponential backoff with jitter: 100 ms, then ×1.6 each failure up to a cap, each delay spread
 * ±20% so that many clients recovering from the same outage do not retry in step.
 * Not thread-safe; each user keeps its own.
 */
final class Backoff {
  private final long initialNanos;
  private final long maxNanos;
  private final Random random;
  private long nextNanos;

  Backoff(Duration initial, Duration max, Random random) {
    this.initialNanos = initial.toNanos();
    this.maxNanos = max.toNanos();
    this.random = random;
    this.nextNanos = initialNanos;
  }

  /** The delay before the next attempt; grows with each call until {@link #reset()}. */
  long nextDelayNanos() {
    long base = nextNanos;
    nextNanos = Math.min(maxNanos, (long) (nextNanos * 1.6));
    double jitter = 0.8 + 0.4 * random.nextDouble();
    return (long) (base * jitter);
  }

  /** After a success: start again from the initial delay. */
  void reset() {
    nextNanos = initialNanos;
  }
}
