package io.meshgate.gateway.ratelimit;

import io.grpc.Status;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.config.GatewayConfig;
import io.micrometer.core.instrument.Counter;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;


/**
 * The rate limits of one route, checked in order at the start of each call (a stream counts
 * once). Over a limit → RESOURCE_EXHAUSTED / 429 with the time to retry. Thread-safe and
 * immutable.
 */
public final class RateLimitPolicy {
  private final String route;
  private final List<Rule> rules;

  /** A rule and its buckets: local ones, or in the shared store ({@code global} not null). */
  record Rule(GatewayConfig.RateLimit config, TokenBucketRateLimiter limiter,
      Counter rejections, GlobalLimiter global) {}

  /** Global rules still to ask the store, with their keys, and the tightest decision so far. */
  record Pending(List<Rule> rules, List<String> keys,
      TokenBucketRateLimiter.Decision tightest) {}

  /**
   * What a call learns from the limits: whether it may go on, and the figures of the tightest
   * limit for {@code RateLimit-*} headers (limit 0 when no rule applied).
   *
   * @param status RESOURCE_EXHAUSTED for a refused call; null when allowed
   * @param retryAfterSeconds for a refused call, whole seconds to wait (at least 1)
   * @param retryAfterNanos for a refused call, the exact wait
   */
  public record Result(Status status, long limit, long remaining, long resetSeconds,
      long retryAfterSeconds, long retryAfterNanos, Pending waiting) {
    Result(Status status, long limit, long remaining, long resetSeconds,
        long retryAfterSeconds, long retryAfterNanos) {
      this(status, limit, remaining, resetSeconds, retryAfterSeconds, retryAfterNanos, null);
    }

    /** Whether the call may go on (a pending result may still refuse it: {@link #settle}). */
    public boolean allowed() {
      return status == null;
    }

    /** Whether global rules must still ask the shared store ({@link #settle}). */
    public boolean pending() {
      return waiting != null;
    }
  }


  RateLimitPolicy(String route, List<Rule> rules) {
    this.route = route;
    this.rules = List.copyOf(rules);
  }

  /**
   * Takes a token from every applicable rule's bucket, stopping at the first refusal.
   *
   * @param claims a claim of the call's verified token as text, or null (no token, no claim)
   */
  public Result check(RequestView call, Function<String, String> claims) {
    TokenBucketRateLimiter.Decision tightest = null;
    List<Rule> waiting = null;
    List<String> waitingKeys = null;
    for (Rule rule : rules) {
      String key = key(rule.config(), call, claims);
      if (key == null) {
        continue; // the call has no value for this key: the rule does not apply
      }
      TokenBucketRateLimiter.Decision decision = rule.global() == null
          ? rule.limiter().tryAcquire(key) : rule.global().fromLease(key);
      if (decision == null) {
        // Nothing reserved here: the store decides, once the call knows its event loop.
        if (waiting == null) {
          waiting = new java.util.ArrayList<>(1);
          waitingKeys = new java.util.ArrayList<>(1);
        }
        waiting.add(rule);
        waitingKeys.add(key);
        continue;
      }
      if (!decision.allowed()) {
        return refused(rule, decision);
      }
      if (tightest == null || decision.remaining() < tightest.remaining()) {
        tightest = decision;
      }
    }
    Pending pending = waiting == null ? null : new Pending(waiting, waitingKeys, tightest);
    if (tightest == null) {
      return new Result(null, 0, 0, 0, 0, 0, pending);
    }
    return new Result(null, tightest.limit(), tightest.remaining(),
        seconds(tightest.resetNanos()), 0, 0, pending);
  }

  private Result refused(Rule rule, TokenBucketRateLimiter.Decision decision) {
    rule.rejections().increment();
    long retrySeconds = Math.max(1, (decision.retryAfterNanos() + 999_999_999L)
        / 1_000_000_000L);
    GatewayConfig.RateLimit c = rule.config();
    String message = decision == GlobalLimiter.STORE_DOWN
        ? String.format(Locale.ROOT, "rate limit '%s' of route '%s' cannot be counted: its"
            + " store (ratelimit.redis) did not answer, and onStoreFailure is deny", c.name(),
            route)
        : String.format(Locale.ROOT,
            "rate limit '%s' of route '%s' exceeded (%s, burst %d, per %s%s); retry in %.1f s",
            c.name(), route, rate(c.permitsPerSecond()), c.burst(), keyLabel(c),
            c.global() == null ? "" : ", across the gateways", decision.retryAfterNanos() / 1e9);
    return new Result(Status.RESOURCE_EXHAUSTED.withDescription(message), decision.limit(), 0,
        seconds(decision.resetNanos()), retrySeconds, decision.retryAfterNanos());
  }

  /**
   * For a {@link Result#pending} result: asks the store for each global rule in turn, on
   * {@code loop}, each within its rule's timeout.
   *
   * @return the final result, completed on {@code loop}
   */
  public java.util.concurrent.CompletableFuture<Result> settle(Result result,
      io.netty.util.concurrent.EventExecutor loop) {
    return settle(result.waiting(), 0, result.waiting().tightest(), loop);
  }

  private java.util.concurrent.CompletableFuture<Result> settle(Pending pending, int index,
      TokenBucketRateLimiter.Decision tightest, io.netty.util.concurrent.EventExecutor loop) {
    if (index == pending.rules().size()) {
      return java.util.concurrent.CompletableFuture.completedFuture(tightest == null
          ? new Result(null, 0, 0, 0, 0, 0)
          : new Result(null, tightest.limit(), tightest.remaining(),
              seconds(tightest.resetNanos()), 0, 0));
    }
    Rule rule = pending.rules().get(index);
    return rule.global().acquire(pending.keys().get(index), loop).thenCompose(decision -> {
      if (!decision.allowed()) {
        return java.util.concurrent.CompletableFuture.completedFuture(refused(rule, decision));
      }
      return settle(pending, index + 1, tightest == null
          || decision.remaining() < tightest.remaining() ? decision : tightest, loop);
    });
  }

  private static long seconds(long nanos) {
    return (nanos + 999_999_999L) / 1_000_000_000L;
  }

  private static String key(GatewayConfig.RateLimit rule, RequestView call,
      Function<String, String> claims) {
    return switch (rule.key()) {
      case "route" -> "";
      case "header" -> call.header(rule.keyName());
      case "claim" -> claims.apply(rule.keyName());
      case "clientCert" -> call.clientIdentity() == null ? null
          : call.clientIdentity().principal();
      default -> clientIp(call, rule.trustedHops());
    };
  }

  static String clientIp(RequestView call, int hops) {
    return io.meshgate.gateway.call.ClientAddress.of(call, hops);
  }

  private static String keyLabel(GatewayConfig.RateLimit rule) {
    return switch (rule.key()) {
      case "route" -> "route";
      case "header" -> "header " + rule.keyName();
      case "claim" -> "claim " + rule.keyName();
      case "clientCert" -> "client certificate";
      default -> "client address";
    };
  }

  private static String rate(double perSecond) {
    if (perSecond >= 1) {
      return trim(perSecond) + "/s";
    }
    if (perSecond * 60 >= 1) {
      return trim(perSecond * 60) + "/m";
    }
    return trim(perSecond * 3600) + "/h";
  }

  private static String trim(double value) {
    return value == Math.rint(value) ? Long.toString((long) value)
        : String.format(Locale.ROOT, "%.2f", value);
  }

  /**
   * The {@code google.rpc.Status} of a refused call, with a {@code RetryInfo} detail that gRPC
   * clients and the REST error body both carry.
   */
  public static byte[] statusDetails(Result refused) {
    long nanos = Math.max(refused.retryAfterNanos(), 1);
    return com.google.rpc.Status.newBuilder()
        .setCode(Status.Code.RESOURCE_EXHAUSTED.value())
        .setMessage(refused.status().getDescription())
        .addDetails(com.google.protobuf.Any.pack(com.google.rpc.RetryInfo.newBuilder()
            .setRetryDelay(com.google.protobuf.Duration.newBuilder()
                .setSeconds(nanos / 1_000_000_000L).setNanos((int) (nanos % 1_000_000_000L)))
            .build()))
        .build().toByteArray();
  }
}
