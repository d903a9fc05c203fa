package io.meshgate.gateway;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.route.Route;
import io.meshgate.gateway.route.RouteTable;
import io.meshgate.transcoder.DescriptorPool;
import io.meshgate.transcoder.HttpRoute;
import io.meshgate.transcoder.HttpRouteTable;
import io.meshgate.transcoder.RouteMatch;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The operators' commands that read a configuration without running it: {@code meshgate routes}
 * prints the compiled route table in match order; {@code meshgate explain} says which route,
 * cluster, policies and (for a REST request) transcoding rule a call would get, and why. The
 * route table is the one the gateway compiles (same matching, first match wins); descriptors
 * come from {@code transcoding.descriptors} files (not from reflection, which needs the
 * backends).
 */
final class Explain {
  private final GatewayConfig config;
  private final RouteTable table;

  private Explain(GatewayConfig config) {
    this.config = config;
    List<Route> routes = new ArrayList<>();
    List<GatewayConfig.Match> matches = new ArrayList<>();
    for (GatewayConfig.Route route : config.routes()) {
      routes.add(new Route(route.name(), null, 0, 0, null, null, null, null, null, null));
      matches.add(route.match());
    }
    this.table = RouteTable.of(routes, matches);
  }

  static Explain of(GatewayConfig config) {
    return new Explain(config);
  }

  /** {@code meshgate routes}: one block per route, in match order. */
  void routes(PrintStream out) {
    out.println(config.routes().size() + " routes, in match order (the first that matches"
        + " takes the call):");
    int i = 0;
    for (GatewayConfig.Route route : config.routes()) {
      out.println();
      out.println(i++ + ". " + route.name() + ": " + match(route.match()));
      describe(route, out, List.of());
    }
  }

  /**
   * {@code meshgate explain}: {@code target} is {@code /pkg.Service/Method}, or a REST request
   * as {@code METHOD /path?query}.
   *
   * @param headers {@code name:value} request headers ({@code :authority} or {@code host} for
   *     routes that match on it; others for canary rules)
   * @return whether a route takes the call
   */
  boolean explain(String target, List<String> headers, PrintStream out) throws Exception {
    Map<String, String> byName = headers.stream().collect(Collectors.toMap(
        h -> h.substring(0, h.indexOf(':', 1)).strip().toLowerCase(Locale.ROOT),
        h -> h.substring(h.indexOf(':', 1) + 1).strip(), (a, b) -> a));
    String grpcPath = target;
    String[] words = target.strip().split("\\s+", 2);
    if (words.length == 2) {
      String method = words[0].toUpperCase(Locale.ROOT);
      String path = words[1];
      int question = path.indexOf('?');
      String rawPath = question < 0 ? path : path.substring(0, question);
      if (config.transcoding().descriptorFiles().isEmpty()) {
        out.println("REST: no transcoding.descriptors files in the configuration, so no"
            + " google.api.http rule can be read (reflection needs the running backends)");
        return false;
      }
      DescriptorPool pool = DescriptorPool.fromFiles(config.transcoding().descriptorFiles());
      RouteMatch match = HttpRouteTable.compile(pool).match(method, rawPath);
      if (match.kind() != RouteMatch.Kind.FOUND) {
        out.println("REST: " + method + " " + rawPath + " matches no google.api.http rule ("
            + (match.kind() == RouteMatch.Kind.METHOD_NOT_ALLOWED ? "the path takes "
                + match.allowedMethods() : "404") + ")");
        return false;
      }
      HttpRoute rule = match.route();
      grpcPath = rule.grpcPath();
      out.println("REST: " + method + " " + rawPath + " is " + grpcPath + " by the rule "
          + rule + (rule.clientStreaming() && rule.serverStreaming()
              ? " (bidirectional: REST answers 501; open the path as a WebSocket)"
              : rule.serverStreaming() ? " (a server stream: NDJSON, or SSE on request)"
              : rule.clientStreaming() ? " (a client stream: a JSON array or NDJSON body)" : ""));
    }
    if (!grpcPath.startsWith("/") || grpcPath.indexOf('/', 1) < 0) {
      out.println("'" + target + "' is neither /package.Service/Method nor METHOD /path");
      return false;
    }
    String service = grpcPath.substring(1, grpcPath.indexOf('/', 1));
    String method = grpcPath.substring(grpcPath.indexOf('/', 1) + 1);
    String authority = byName.getOrDefault(":authority", byName.get("host"));
    Route matched = table.match(service, method, authority);
    if (matched == null) {
      out.println(grpcPath + ": no route takes it — the call gets UNIMPLEMENTED (REST: 404)."
          + " The routes' matches, in order:");
      for (GatewayConfig.Route route : config.routes()) {
        out.println("  " + route.name() + ": " + match(route.match()));
      }
      return false;
    }
    GatewayConfig.Route route = config.routes().stream()
        .filter(r -> r.name().equals(matched.name())).findFirst().orElseThrow();
    int index = config.routes().indexOf(route);
    out.println(grpcPath + " → route " + route.name() + " (routes[" + index + "], the first"
        + " whose match fits: " + match(route.match()) + ")");
    describe(route, out, headers);
    return true;
  }

  private void describe(GatewayConfig.Route route, PrintStream out, List<String> headers) {
    out.println("  cluster:    " + clusters(route, headers));
    out.println("  auth:       " + auth(route.auth()));
    out.println("  rateLimits: " + (route.rateLimits().isEmpty() ? "none"
        : route.rateLimits().stream().map(Explain::limit).collect(Collectors.joining("; "))));
    out.println("  retry:      " + (route.retry() == null ? "none" : "on "
        + route.retry().codes() + ", up to " + route.retry().maxAttempts() + " attempts"));
    out.println("  deadline:   " + (route.timeout() == null ? "the client's"
        : duration(route.timeout()) + " when the client sends none")
        + (route.maxTimeout() == null ? "" : ", at most " + duration(route.maxTimeout())));
  }

  private String clusters(GatewayConfig.Route route, List<String> headers) {
    StringBuilder text = new StringBuilder();
    for (GatewayConfig.CanaryRule rule : route.canary()) {
      String value = null;
      if (rule.header() != null) {
        for (String header : headers) {
          int colon = header.indexOf(':', 1);
          if (header.substring(0, colon).strip().equalsIgnoreCase(rule.header())) {
            value = header.substring(colon + 1).strip();
          }
        }
      }
      boolean hit = rule.value().equals(value);
      text.append(rule.header() != null ? "header " + rule.header() : "claim " + rule.claim())
          .append(" = ").append(rule.value()).append(" → ").append(cluster(rule.cluster()))
          .append(hit ? " (this call: yes)" : rule.header() != null ? " (this call: no)" : "")
          .append("; ");
    }
    if (!route.split().isEmpty()) {
      int total = route.split().stream().mapToInt(GatewayConfig.WeightedCluster::weight).sum();
      text.append("split ").append(route.split().stream().map(w -> cluster(w.cluster()) + " "
          + Math.round(100.0 * w.weight() / total) + "%").collect(Collectors.joining(", ")));
    } else {
      text.append(text.length() == 0 ? "" : "else ").append(cluster(route.cluster()));
    }
    return text.toString();
  }

  private String cluster(String name) {
    return config.clusters().stream().filter(c -> c.name().equals(name)).findFirst()
        .map(c -> name + " (" + c.target() + ", " + c.lbPolicy()
            + (c.tls() == null ? "" : ", TLS") + (c.circuitBreaker() == null ? ""
                : ", circuit breaker") + ")")
        .orElse(name);
  }

  private static String auth(GatewayConfig.RouteAuth auth) {
    if (auth == null) {
      return "public";
    }
    List<String> parts = new ArrayList<>();
    if (auth.requiresToken()) {
      parts.add("a JWT from " + auth.providers()
          + (auth.requireScopes().isEmpty() ? "" : " with scopes " + auth.requireScopes())
          + (auth.requireClaims().isEmpty() ? "" : " and claims " + auth.requireClaims()));
    }
    if (!auth.principals().isEmpty()) {
      parts.add("a client certificate naming one of " + auth.principals());
    }
    return String.join(" and ", parts);
  }

  private static String limit(GatewayConfig.RateLimit limit) {
    String key = switch (limit.key()) {
      case "route" -> "one bucket";
      case "header" -> "per header " + limit.keyName();
      case "claim" -> "per claim " + limit.keyName();
      case "clientCert" -> "per client certificate";
      default -> "per client address";
    };
    return limit.name() + " " + String.format(Locale.ROOT, "%.2f", limit.permitsPerSecond())
        .replaceAll("\\.?0+$", "") + "/s burst " + limit.burst() + " " + key
        + (limit.global() == null ? "" : ", global in Redis (on store failure "
            + limit.global().onStoreFailure().name().toLowerCase(Locale.ROOT) + ")");
  }

  private static String match(GatewayConfig.Match match) {
    String what = match.service() != null ? "service " + match.service()
        : match.servicePrefix().isEmpty() ? "every service"
        : "services starting with " + match.servicePrefix();
    return what + (match.method() == null ? "" : ", method " + match.method())
        + (match.authorities().isEmpty() ? "" : ", authority " + match.authorities());
  }

  private static String duration(Duration duration) {
    return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + "s"
        : duration.toMillis() + "ms";
  }
}
