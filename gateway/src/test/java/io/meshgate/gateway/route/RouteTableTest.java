package io.meshgate.gateway.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.meshgate.gateway.config.GatewayConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouteTableTest {
  private final List<Route> routes = new ArrayList<>();
  private final List<GatewayConfig.Match> matches = new ArrayList<>();

  private void add(String name, String service, String prefix, String method,
      String... authorities) {
    routes.add(new Route(name, null, 0, 0, null, null, null, null, null, null));
    matches.add(new GatewayConfig.Match(service, prefix, method, List.of(authorities)));
  }

  private String match(String service, String method, String authority) {
    Route route = RouteTable.of(routes, matches).match(service, method, authority);
    return route == null ? null : route.name();
  }

  @Test
  void firstMatchingRouteWinsInConfiguredOrder() {
    add("get-only", "acme.Users", null, "Get");
    add("canary", null, "acme.", null, "canary.example.com");
    add("users", "acme.Users", null, null);
    add("rest", null, "", null);
    assertEquals("get-only", match("acme.Users", "Get", null));
    assertEquals("users", match("acme.Users", "List", null));
    assertEquals("canary", match("acme.Users", "List", "canary.example.com:443"));
    assertEquals("get-only", match("acme.Users", "Get", "canary.example.com"));
    assertEquals("rest", match("other.Service", "Do", null));
  }

  @Test
  void noRouteMeansNull() {
    add("users", "acme.Users", null, null);
    assertNull(match("acme.Orders", "Get", null));
    assertNull(RouteTable.empty().match("a.B", "C", null));
  }

  @Test
  void authorityPatternsMatchHostsWildcardsAndPorts() {
    add("wild", null, "", null, "*.example.com");
    add("port", null, "", null, "api.test:8443");
    add("v6", null, "", null, "[::1]");
    assertEquals("wild", match("a.B", "C", "api.example.com"));
    assertEquals("wild", match("a.B", "C", "API.Example.com:80"));
    assertNull(match("a.B", "C", "example.com"));
    assertEquals("port", match("a.B", "C", "api.test:8443"));
    assertNull(match("a.B", "C", "api.test:80"));
    assertEquals("v6", match("a.B", "C", "[::1]:8080"));
  }

  @Test
  void deadlinesFollowTheRoute() {
    Route capped = new Route("capped", null, 0, 1_000, null, null, null, null, null, null);
    assertEquals(1_000, capped.effectiveTimeoutNanos(5_000));
    assertEquals(500, capped.effectiveTimeoutNanos(500));
    assertEquals(1_000, capped.effectiveTimeoutNanos(-1));
    Route defaulted = new Route("defaulted", null, 2_000, 0, null, null, null, null, null, null);
    assertEquals(2_000, defaulted.effectiveTimeoutNanos(-1));
    assertEquals(5_000, defaulted.effectiveTimeoutNanos(5_000));
    Route none = new Route("none", null, 0, 0, null, null, null, null, null, null);
    assertEquals(0, none.effectiveTimeoutNanos(-1));
  }
}
