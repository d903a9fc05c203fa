package io.meshgate.gateway.ratelimit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Token buckets, one per key (a client address, a token's subject, a header value...): each
 * holds up to {@code burst} tokens and refills at {@code permitsPerSecond}; a call takes one.
 * At most {@code maxKeys} buckets are kept: the least recently used go first, so a client
 * spraying keys evicts its own buckets instead of growing memory. (An evicted key starts over
 * with a full bucket, which is as generous as the limit itself.)
 *
 * <p>Thread-safe: keys are spread over stripes, each an access-ordered map under its own lock;
 * a decision holds one stripe's lock for a map lookup and a little arithmetic. Time comes from
 * an injected clock.
 */
public final class TokenBucketRateLimiter {
  private static final int STRIPES = 16;

  private final double permitsPerNano;
  private final double burst;
  private final LongSupplier nanoTime;
  private final Stripe[] stripes;

  /**
   * The outcome of one call's request for a token.
   *
   * @param allowed whether the call may go on
   * @param limit the bucket's size (the burst)
   * @param remaining whole tokens left after this call
   * @param resetNanos time until the bucket is full again
   * @param retryAfterNanos for a refused call, time until a token is available; 0 otherwise
   */
  public record Decision(boolean allowed, long limit, long remaining, long resetNanos,
      long retryAfterNanos) {}

  /**
   * @param permitsPerSecond refill rate, above 0
   * @param burst bucket size, at least 1
   * @param maxKeys buckets kept at most, at least 1
   * @param nanoTime the clock ({@code System::nanoTime} in production)
   */
  public TokenBucketRateLimiter(double permitsPerSecond, long burst, int maxKeys,
      LongSupplier nanoTime) {
    if (!(permitsPerSecond > 0) || burst < 1 || maxKeys < 1) {
      throw new IllegalArgumentException("permitsPerSecond: " + permitsPerSecond + ", burst: "
          + burst + ", maxKeys: " + maxKeys + " (expected: > 0, >= 1, >= 1)");
    }
    this.permitsPerNano = permitsPerSecond / 1e9;
    this.burst = burst;
    this.nanoTime = nanoTime;
    int n = Math.min(STRIPES, maxKeys);
    this.stripes = new Stripe[n];
    for (int i = 0; i < n; i++) {
      stripes[i] = new Stripe(maxKeys / n);
    }
  }

  /** Takes a token from {@code key}'s bucket if there is one. */
  public Decision tryAcquire(String key) {
    Stripe stripe = stripes[(key.hashCode() & 0x7fffffff) % stripes.length];
    long now = nanoTime.getAsLong();
    synchronized (stripe) {
      Bucket bucket = stripe.get(key);
      if (bucket == null) {
        bucket = new Bucket(burst, now);
        stripe.put(key, bucket);
      } else {
        long elapsed = now - bucket.updatedNanos;
        if (elapsed > 0) {
          bucket.tokens = Math.min(burst, bucket.tokens + elapsed * permitsPerNano);
          bucket.updatedNanos = now;
        }
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return new Decision(true, (long) burst, (long) bucket.tokens,
            nanosUntil(burst - bucket.tokens), 0);
      }
      return new Decision(false, (long) burst, 0, nanosUntil(burst - bucket.tokens),
          Math.max(1, nanosUntil(1 - bucket.tokens)));
    }
  }

  /** Buckets currently kept (for tests and metrics). */
  public int size() {
    int n = 0;
    for (Stripe stripe : stripes) {
      synchronized (stripe) {
        n += stripe.size();
      }
    }
    return n;
  }

  private long nanosUntil(double tokens) {
    return (long) Math.ceil(tokens / permitsPerNano);
  }

  private static final class Bucket {
    double tokens;
    long updatedNanos;

    Bucket(double tokens, long now) {
      this.tokens = tokens;
      this.updatedNanos = now;
    }
  }

  /** An access-ordered map that drops its eldest entry beyond its capacity. */
  private static final class Stripe extends LinkedHashMap<String, Bucket> {
    private static final long serialVersionUID = 1L;
    private final int capacity;

    Stripe(int capacity) {
      super(16, 0.75f, true);
      this.capacity = capacity;
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Bucket> eldest) {
      return size() > capacity;
    }
  }
}
