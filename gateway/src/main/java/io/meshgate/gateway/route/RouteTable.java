package io.meshgate.gateway.route;

import io.meshgate.gateway.config.GatewayConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Immutable route table for gRPC calls. Routes keep their configured order (first match wins);
 * routes on an exact service name are indexed by it, so a lookup costs one hash probe plus the
 * prefix routes that come earlier than the best exact candidate.
 */
public final class RouteTable {
  private static final int[] NONE = new int[0];

  private final List<Route> routes;
  private final List<GatewayConfig.Match> matches;
  private final Map<String, int[]> byService;
  private final int[] prefixRoutes;

  private RouteTable(List<Route> routes, List<GatewayConfig.Match> matches) {
    this.routes = List.copyOf(routes);
    this.matches = List.copyOf(matches);
    Map<String, List<Integer>> exact = new HashMap<>();
    List<Integer> prefixes = new ArrayList<>();
    for (int i = 0; i < matches.size(); i++) {
      GatewayConfig.Match m = matches.get(i);
      if (m.service() != null) {
        exact.computeIfAbsent(m.service(), k -> new ArrayList<>()).add(i);
      } else {
        prefixes.add(i);
      }
    }
    Map<String, int[]> index = new HashMap<>();
    exact.forEach((service, list) ->
        index.put(service, list.stream().mapToInt(Integer::intValue).toArray()));
    this.byService = Map.copyOf(index);
    this.prefixRoutes = prefixes.stream().mapToInt(Integer::intValue).toArray();
  }

  /** A table with no routes: every call is UNIMPLEMENTED. */
  public static RouteTable empty() {
    return new RouteTable(List.of(), List.of());
  }

  /**
   * Builds a table.
   *
   * @param routes compiled routes, in match order
   * @param matches the match rule of each route, same order and size
   */
  public static RouteTable of(List<Route> routes, List<GatewayConfig.Match> matches) {
    if (routes.size() != matches.size()) {
      throw new IllegalArgumentException("routes: " + routes.size() + ", matches: "
          + matches.size() + " (expected: the same size)");
    }
    return new RouteTable(routes, matches);
  }

  /** The routes in match order. */
  public List<Route> routes() {
    return routes;
  }

  /**
   * Finds the first route that takes a call, or null when none does.
   *
   * @param service the full service name ({@code acme.orders.v1.OrderService})
   * @param method the method name ({@code GetOrder})
   * @param authority the request's {@code :authority}, or null
   */
  public Route match(String service, String method, CharSequence authority) {
    int best = Integer.MAX_VALUE;
    int[] exact = byService.getOrDefault(service, NONE);
    for (int i : exact) {
      if (matchesRest(matches.get(i), method, authority)) {
        best = i;
        break;
      }
    }
    for (int i : prefixRoutes) {
      if (i > best) {
        break;
      }
      GatewayConfig.Match m = matches.get(i);
      if (service.startsWith(m.servicePrefix()) && matchesRest(m, method, authority)) {
        best = i;
        break;
      }
    }
    return best == Integer.MAX_VALUE ? null : routes.get(best);
  }

  private static boolean matchesRest(GatewayConfig.Match m, String method, CharSequence authority) {
    if (m.method() != null && !m.method().equals(method)) {
      return false;
    }
    if (m.authorities().isEmpty()) {
      return true;
    }
    if (authority == null) {
      return false;
    }
    String full = authority.toString().toLowerCase(Locale.ROOT);
    String host = hostOf(full);
    for (String pattern : m.authorities()) {
      boolean withPort = pattern.startsWith("[") ? pattern.contains("]:") : pattern.contains(":");
      if (withPort ? pattern.equals(full) : matchesHost(pattern, host)) {
        return true;
      }
    }
    return false;
  }

  private static boolean matchesHost(String pattern, String host) {
    if (pattern.startsWith("*.")) {
      return host.endsWith(pattern.substring(1)) && host.length() > pattern.length() - 1;
    }
    return pattern.equals(host);
  }

  /** The host part of an authority: {@code a.b:8080} → {@code a.b}, {@code [::1]:80} → {@code [::1]}. */
  static String hostOf(String authority) {
    int at = authority.lastIndexOf('@');
    String hostPort = at >= 0 ? authority.substring(at + 1) : authority;
    if (hostPort.startsWith("[")) {
      int close = hostPort.indexOf(']');
      return close > 0 ? hostPort.substring(0, close + 1) : hostPort;
    }
    int colon = hostPort.lastIndexOf(':');
    return colon >= 0 ? hostPort.substring(0, colon) : hostPort;
  }
}
