package io.meshgate.gateway.ratelimit;

import io.meshgate.gateway.config.GatewayConfig;
import io.micrometer.core.instrument.Counter;
import io.netty.util.concurrent.EventExecutor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One {@code scope: global} rule: its buckets live in the shared store, so every gateway that
 * shares the store shares the limit. A call takes a token this gateway reserved earlier if it
 * has one (no round trip), else asks the store for {@code batch} tokens — the call waits for the
 * answer on its own event loop, never blocking it, for at most the rule's {@code timeout}, after
 * which {@code onStoreFailure} decides (admit, refuse, or a local bucket at the rule's rate over
 * the fleet size). A gateway never admits more calls than the store granted it; reserved tokens
 * unused within their lease (the time the rate takes to refill a batch) are dropped. Thread-safe.
 */
final class GlobalLimiter {
  private final GatewayConfig.RateLimit rule;
  private final String bucketPrefix;
  private final RedisStore store;
  private final TokenBucketRateLimiter fallback;
  private final Counter timeouts;
  private final Counter errors;
  private final LongSupplier nanoTime;
  private final long leaseNanos;
  private final Map<String, Lease> leases; // guarded by itself

  /** The refusal of {@code onStoreFailure: deny} (told apart from an exhausted bucket). */
  static final TokenBucketRateLimiter.Decision STORE_DOWN = new TokenBucketRateLimiter.Decision(
      false, 0, 0, TimeUnit.SECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(1));

  private static final class Lease {
    long tokens;
    long expiresNanos;
  }

  /**
   * @param bucketPrefix names the route and rule in the store's keys
   * @param fallback the local bucket of {@code onStoreFailure: local}
   */
  GlobalLimiter(GatewayConfig.RateLimit rule, String bucketPrefix, RedisStore store,
      TokenBucketRateLimiter fallback, Counter timeouts, Counter errors,
      LongSupplier nanoTime) {
    this.rule = rule;
    this.bucketPrefix = bucketPrefix;
    this.store = store;
    this.fallback = fallback;
    this.timeouts = timeouts;
    this.errors = errors;
    this.nanoTime = nanoTime;
    long refill = (long) (rule.global().batch() / rule.permitsPerSecond() * 1e9);
    this.leaseNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(100),
        Math.min(refill, TimeUnit.SECONDS.toNanos(10)));
    int maxKeys = rule.maxKeys();
    this.leases = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Lease> eldest) {
        return size() > maxKeys;
      }
    };
  }

  /** A token reserved earlier for {@code key}, taken; null when there is none. */
  TokenBucketRateLimiter.Decision fromLease(String key) {
    long now = nanoTime.getAsLong();
    synchronized (leases) {
      Lease lease = leases.get(key);
      if (lease != null && lease.tokens > 0 && now - lease.expiresNanos < 0) {
        lease.tokens--;
        return new TokenBucketRateLimiter.Decision(true, rule.burst(), lease.tokens, 0, 0);
      }
    }
    return null;
  }

  /**
   * Asks the store; completes on {@code loop} within the rule's timeout, by the store's answer
   * or by {@code onStoreFailure}.
   */
  CompletableFuture<TokenBucketRateLimiter.Decision> acquire(String key, EventExecutor loop) {
    CompletableFuture<TokenBucketRateLimiter.Decision> decided = new CompletableFuture<>();
    io.netty.util.concurrent.ScheduledFuture<?> timer = loop.schedule(() -> {
      if (!decided.isDone()) {
        timeouts.increment();
        decided.complete(onFailure(key));
      }
    }, rule.global().timeout().toNanos(), TimeUnit.NANOSECONDS);
    int batch = rule.global().batch();
    store.take(bucketPrefix + key, rule.permitsPerSecond(), rule.burst(), batch)
        .whenComplete((grant, failure) -> loop.execute(() -> {
          timer.cancel(false);
          if (failure != null) {
            if (!decided.isDone()) {
              errors.increment();
              decided.complete(onFailure(key));
            }
            return;
          }
          if (decided.isDone()) {
            keep(key, grant.granted()); // answered late: the tokens serve the next calls
            return;
          }
          if (grant.granted() > 0) {
            keep(key, grant.granted() - 1);
            decided.complete(new TokenBucketRateLimiter.Decision(true, rule.burst(),
                grant.remaining(), 0, 0));
          } else {
            long wait = TimeUnit.MILLISECONDS.toNanos(Math.max(1, grant.waitMillis()));
            decided.complete(new TokenBucketRateLimiter.Decision(false, rule.burst(), 0, wait,
                wait));
          }
        }));
    return decided;
  }

  private void keep(String key, long tokens) {
    if (tokens <= 0) {
      return;
    }
    long now = nanoTime.getAsLong();
    synchronized (leases) {
      Lease lease = leases.computeIfAbsent(key, k -> new Lease());
      if (now - lease.expiresNanos >= 0) {
        lease.tokens = 0;
      }
      lease.tokens += tokens;
      lease.expiresNanos = now + leaseNanos;
    }
  }

  private TokenBucketRateLimiter.Decision onFailure(String key) {
    return switch (rule.global().onStoreFailure()) {
      case ALLOW -> new TokenBucketRateLimiter.Decision(true, rule.burst(), 0, 0, 0);
      case DENY -> STORE_DOWN;
      case LOCAL -> fallback.tryAcquire(key);
    };
  }
}
