package io.meshgate.gateway.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimitPolicyTest {
  private final AtomicLong now = new AtomicLong();
  private final GatewayMetrics metrics = new GatewayMetrics(GatewayConfig.Metrics.defaults());
  private final RateLimits limits = new RateLimits(metrics, now::get);

  private static GatewayConfig.RateLimit rule(String name, String key, String keyName,
      int hops, double perSecond, long burst) {
    return new GatewayConfig.RateLimit(name, key, keyName, hops, perSecond, burst, 1000);
  }

  private static RequestView call(String peer, Map<String, String> headers) {
    return new RequestView() {
      @Override
      public String header(String name) {
        return headers.get(name);
      }

      @Override
      public String rawQuery() {
        return null;
      }

      @Override
      public String peerAddress() {
        return peer;
      }

      @Override
      public String authority() {
        return null;
      }
    };
  }

  private static RateLimitPolicy.Result check(RateLimitPolicy policy, String peer,
      Map<String, String> headers, Map<String, String> claims) {
    return policy.check(call(peer, headers), claims::get);
  }

  @Test
  void clientAddressHonoursOnlyTrustedForwardingHops() {
    RequestView viaTwoProxies = call("10.0.0.2",
        Map.of("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.1"));
    assertEquals("10.0.0.2", RateLimitPolicy.clientIp(viaTwoProxies, 0),
        "no trusted proxy: the TCP peer");
    assertEquals("10.0.0.1", RateLimitPolicy.clientIp(viaTwoProxies, 1));
    assertEquals("203.0.113.7", RateLimitPolicy.clientIp(viaTwoProxies, 2),
        "the address the first trusted proxy saw, not what the client wrote");
    assertEquals("10.0.0.2", RateLimitPolicy.clientIp(call("10.0.0.2",
        Map.of("x-forwarded-for", "1.1.1.1")), 2), "too short: the TCP peer");
  }

  @Test
  void eachKeyKindGetsItsOwnBucketsAndAMissingValueSkipsTheRule() {
    RateLimitPolicy policy = limits.forRoute("r", List.of(
        rule("per-key", "header", "x-api-key", 0, 1, 1),
        rule("per-user", "claim", "sub", 0, 1, 1)));
    assertTrue(check(policy, "1.1.1.1", Map.of("x-api-key", "a"), Map.of()).allowed());
    assertFalse(check(policy, "1.1.1.1", Map.of("x-api-key", "a"), Map.of()).allowed());
    assertTrue(check(policy, "1.1.1.1", Map.of("x-api-key", "b"), Map.of()).allowed());
    RateLimitPolicy.Result none = check(policy, "1.1.1.1", Map.of(), Map.of());
    assertTrue(none.allowed(), "no key, no claim: no rule applies");
    assertEquals(0, none.limit());
    assertTrue(check(policy, "1.1.1.1", Map.of(), Map.of("sub", "alice")).allowed());
    RateLimitPolicy.Result refused =
        check(policy, "1.1.1.1", Map.of(), Map.of("sub", "alice"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.status().getCode());
    assertEquals("rate limit 'per-user' of route 'r' exceeded (1/s, burst 1, per claim sub);"
        + " retry in 1.0 s", refused.status().getDescription());
    assertEquals(1, refused.retryAfterSeconds());
  }

  @Test
  void theTightestLimitIsReported() {
    RateLimitPolicy policy = limits.forRoute("r", List.of(
        rule("wide", "route", null, 0, 100, 100),
        rule("narrow", "clientIp", null, 0, 1, 3)));
    RateLimitPolicy.Result first = check(policy, "1.1.1.1", Map.of(), Map.of());
    assertEquals(3, first.limit());
    assertEquals(2, first.remaining());
    assertEquals(1, first.resetSeconds());
  }

  @Test
  void aRebuiltRouteKeepsTheBucketsOfUnchangedRulesOnly() {
    GatewayConfig.RateLimit kept = rule("kept", "route", null, 0, 1, 1);
    GatewayConfig.RateLimit changed = rule("changed", "route", null, 0, 1, 1);
    RateLimitPolicy before = limits.forRoute("r", List.of(kept));
    RateLimitPolicy other = limits.forRoute("s", List.of(changed));
    assertTrue(check(before, null, Map.of(), Map.of()).allowed());
    assertTrue(check(other, null, Map.of(), Map.of()).allowed());

    // A reload: same rule "kept"; rule "changed" now allows a burst of 2.
    RateLimitPolicy after = limits.forRoute("r", List.of(kept));
    RateLimitPolicy otherAfter = limits.forRoute("s",
        List.of(rule("changed", "route", null, 0, 1, 2)));
    limits.retainOnly(Map.of("r", List.of(kept),
        "s", List.of(rule("changed", "route", null, 0, 1, 2))));
    assertFalse(check(after, null, Map.of(), Map.of()).allowed(),
        "the unchanged rule's bucket is still empty");
    assertTrue(check(otherAfter, null, Map.of(), Map.of()).allowed(),
        "the changed rule starts with a full bucket");
    assertSame(Status.Code.RESOURCE_EXHAUSTED,
        check(before, null, Map.of(), Map.of()).status().getCode());
    assertNull(limits.forRoute("t", List.of()));
    assertEquals(2, metrics.scrape().lines()
        .filter(l -> l.startsWith("meshgate_ratelimit_rejections_total")).count());
  }
}
