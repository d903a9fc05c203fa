package io.meshgate.resolver;

/**
 * Recent call outcomes of one instance, in a sliding window of ten buckets, for passive outlier
 * ejection. Thread-safe (calls end on transport threads); time comes from the caller.
 */
final class OutlierStats {
  private static final int BUCKETS = 10;

  private final long bucketNanos;
  private final long[] successes = new long[BUCKETS];
  private final long[] failures = new long[BUCKETS];
  private final long[] bucketStart = new long[BUCKETS];

  OutlierStats(long windowNanos) {
    this.bucketNanos = Math.max(1, windowNanos / BUCKETS);
  }

  /** Records one call's outcome at {@code nowNanos}. */
  synchronized void record(boolean failed, long nowNanos) {
    int i = bucket(nowNanos);
    if (failed) {
      failures[i]++;
    } else {
      successes[i]++;
    }
  }

  /**
   * Whether the failures within the window reach {@code failurePercent} of at least
   * {@code minRequests} calls.
   */
  synchronized boolean failing(long nowNanos, int failurePercent, int minRequests) {
    long ok = 0;
    long failed = 0;
    for (int i = 0; i < BUCKETS; i++) {
      if (nowNanos - bucketStart[i] < BUCKETS * bucketNanos) {
        ok += successes[i];
        failed += failures[i];
      }
    }
    long total = ok + failed;
    return total >= minRequests && failed * 100 >= (long) failurePercent * total;
  }

  /** Forgets everything (an instance back from ejection starts with a clean record). */
  synchronized void reset() {
    java.util.Arrays.fill(successes, 0);
    java.util.Arrays.fill(failures, 0);
    java.util.Arrays.fill(bucketStart, 0);
  }

  private int bucket(long nowNanos) {
    long slot = Math.floorDiv(nowNanos, bucketNanos);
    int i = (int) Math.floorMod(slot, BUCKETS);
    long start = slot * bucketNanos;
    if (bucketStart[i] != start) {
      bucketStart[i] = start;
      successes[i] = 0;
      failures[i] = 0;
    }
    return i;
  }
}
