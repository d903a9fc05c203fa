package io.meshgate.gateway.resilience;

import java.util.function.LongSupplier;

/**
 * How many retries a route may make: at most {@code ratio} retries per call plus
 * {@code minPerSecond} a second, over a sliding window of ten one-second slots (the retry budget
 * of Finagle and Linkerd). So when a cluster fails everything, retries add at most that share of
 * load instead of multiplying it. Thread-safe; time comes from an injected clock.
 */
final class RetryBudget {
  private static final int SLOTS = 10;
  private static final long SLOT_NANOS = 1_000_000_000L;

  private final double ratio;
  private final int minPerSecond;
  private final LongSupplier nanoTime;
  // Guarded by this.
  private final long[] calls = new long[SLOTS];
  private final long[] retries = new long[SLOTS];
  private long currentSlot;

  RetryBudget(double ratio, int minPerSecond, LongSupplier nanoTime) {
    this.ratio = ratio;
    this.minPerSecond = minPerSecond;
    this.nanoTime = nanoTime;
    this.currentSlot = nanoTime.getAsLong() / SLOT_NANOS;
  }

  /** A call started. */
  synchronized void onCall() {
    calls[advance()]++;
  }

  /** Takes a retry from the budget; false when the window has none left. */
  synchronized boolean tryRetry() {
    int slot = advance();
    long totalCalls = 0;
    long totalRetries = 0;
    for (int i = 0; i < SLOTS; i++) {
      totalCalls += calls[i];
      totalRetries += retries[i];
    }
    if (totalRetries + 1 > (long) minPerSecond * SLOTS + ratio * totalCalls) {
      return false;
    }
    retries[slot]++;
    return true;
  }

  /** Clears the slots that fell out of the window; returns the current slot's index. */
  private int advance() {
    long slot = nanoTime.getAsLong() / SLOT_NANOS;
    long gap = Math.min(SLOTS, slot - currentSlot);
    for (long s = 1; s <= gap; s++) {
      int i = (int) ((currentSlot + s) % SLOTS);
      calls[i] = 0;
      retries[i] = 0;
    }
    if (slot > currentSlot) {
      currentSlot = slot;
    }
    return (int) (currentSlot % SLOTS);
  }
}
