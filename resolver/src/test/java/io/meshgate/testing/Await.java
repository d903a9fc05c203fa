package io.meshgate.testing;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Waits for a condition with a bounded timeout, polling; never a bare sleep. Tests use it to wait
 * for something to happen, then assert on what happened.
 */
public final class Await {
  private static final long POLL_NANOS = Duration.ofMillis(10).toNanos();

  private Await() {}

  /**
   * Returns once {@code condition} holds.
   *
   * @throws AssertionError naming {@code what} if it does not hold within {@code timeout}
   */
  public static void until(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for: "
            + what);
      }
      LockSupport.parkNanos(POLL_NANOS);
    }
  }

  /** Like {@link #until}, with a message that shows the last value seen. */
  public static <T> T until(String what, Duration timeout, Supplier<T> value,
      java.util.function.Predicate<T> condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    T last = value.get();
    while (!condition.test(last)) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for: "
            + what + " (last value: " + last + ")");
      }
      LockSupport.parkNanos(POLL_NANOS);
      last = value.get();
    }
    return last;
  }

  /**
   * Waits until a counter stops moving: it has kept the same value for {@code quiet}.
   *
   * @return the settled value
   * @throws AssertionError if it keeps moving for all of {@code timeout}
   */
  public static long settled(String what, Duration quiet, Duration timeout, LongSupplier counter) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long value = counter.getAsLong();
    long since = System.nanoTime();
    while (true) {
      LockSupport.parkNanos(POLL_NANOS);
      long now = System.nanoTime();
      long next = counter.getAsLong();
      if (next != value) {
        value = next;
        since = now;
      } else if (now - since >= quiet.toNanos()) {
        return value;
      }
      if (now - deadline > 0) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for "
            + what + " to settle (still moving, now " + value + ")");
      }
    }
  }
}
