package io.meshgate.gateway.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Binds {@code routes:}: matches (and routes an earlier one shadows), clusters or weighted
 * splits, canary rules, deadlines, and each route's policies through their binders. Errors go to
 * the reader.
 */
final class RouteBinder {
  private final ConfigReader reader;
  private final BindContext context;
  private final AuthBinder authBinder;
  private final RateLimitBinder rateLimitBinder;
  private final ResilienceBinder resilienceBinder;
  private final TranscodingBinder transcodingBinder;

  RouteBinder(ConfigReader reader, BindContext context, AuthBinder authBinder, RateLimitBinder rateLimitBinder, ResilienceBinder resilienceBinder, TranscodingBinder transcodingBinder) {
    this.reader = reader;
    this.context = context;
    this.authBinder = authBinder;
    this.rateLimitBinder = rateLimitBinder;
    this.resilienceBinder = resilienceBinder;
    this.transcodingBinder = transcodingBinder;
  }

  List<GatewayConfig.Route> routes(ConfigReader.Obj root,
      Map<String, GatewayConfig.Cluster> clusters, GatewayConfig.RestOptions rest,
      Map<String, GatewayConfig.JwtProvider> providers, GatewayConfig.RateLimitStore store) {
    List<GatewayConfig.Route> routes = new ArrayList<>();
    List<Node> items = root.list("routes");
    for (int i = 0; i < items.size(); i++) {
      String path = "routes[" + i + "]";
      ConfigReader.Obj r = reader.item(items.get(i), path);
      String name = r.string("name", path);
      GatewayConfig.Match match = match(r.requiredObj("match"));
      List<GatewayConfig.WeightedCluster> split = split(r, clusters);
      String cluster = split.isEmpty() || r.has("cluster") ? r.requiredString("cluster")
          : split.get(0).cluster();
      if (!split.isEmpty() && r.has("cluster")) {
        reader.error(r.node("split"), r.child("split"), "a route has a cluster or a split, not"
            + " both");
      }
      if (cluster != null && !clusters.containsKey(cluster)) {
        reader.error(r.node("cluster"), r.child("cluster"), "'" + cluster
            + "' is not a defined cluster (defined: "
            + (clusters.isEmpty() ? "none" : String.join(", ", clusters.keySet())) + ")");
      }
      Duration timeout = r.duration("timeout", null, Duration.ofMillis(1), BindContext.MAX_DURATION);
      Duration maxTimeout = r.duration("maxTimeout", null, Duration.ofMillis(1), BindContext.MAX_DURATION);
      if (timeout != null && maxTimeout != null && timeout.compareTo(maxTimeout) > 0) {
        reader.error(r.node("timeout"), r.child("timeout"), ConfigReader.format(timeout)
            + " is longer than maxTimeout " + ConfigReader.format(maxTimeout));
      }
      ConfigReader.Obj a = r.obj("auth");
      GatewayConfig.RouteAuth auth = a == null ? null : authBinder.routeAuth(a, providers);
      List<GatewayConfig.RateLimit> limits = rateLimitBinder.rateLimits(r, auth, store);
      List<GatewayConfig.CanaryRule> canary = canary(r, clusters, auth);
      ConfigReader.Obj rt = r.obj("retry");
      GatewayConfig.Retry retry = rt == null ? null : resilienceBinder.retry(rt);
      GatewayConfig.IpRules ipRules = IpRulesBinder.ipRules(reader, r.obj("ipRules"));
      GatewayConfig.Faults faults = faults(r.obj("faults"));
      GatewayConfig.Mirror mirror = null;
      ConfigReader.Obj m = r.obj("mirror");
      if (m != null) {
        String mirrorCluster = m.requiredString("cluster");
        if (mirrorCluster != null && !clusters.containsKey(mirrorCluster)) {
          reader.error(m.node("cluster"), m.child("cluster"), "'" + mirrorCluster
              + "' is not a cluster (clusters: " + clusters.keySet() + ")");
        }
        mirror = new GatewayConfig.Mirror(mirrorCluster, m.decimal("percent", 100, 0, 100),
            m.integer("maxInFlight", 100, 1, 100_000));
        m.finish();
      }
      ConfigReader.Obj c = r.obj("cache");
      GatewayConfig.Cache cache = c == null ? null : resilienceBinder.cache(c, auth);
      ConfigReader.Obj fb = r.obj("fallback");
      GatewayConfig.Fallback fallback = fb == null ? null : resilienceBinder.fallback(fb, cache);
      ConfigReader.Obj h = r.obj("hedging");
      GatewayConfig.Hedging hedging = h == null ? null : resilienceBinder.hedging(h);
      if (hedging != null && retry != null) {
        reader.error(r.node("hedging"), r.child("hedging"), "a route retries (retry:) or hedges"
            + " (hedging:), not both, as in gRPC's service config");
      }
      ConfigReader.Obj t = r.obj("transcoding");
      GatewayConfig.RestOptions routeRest = null;
      if (t != null) {
        routeRest = transcodingBinder.restOptions(t, rest);
        t.finish();
      }
      r.finish();
      GatewayConfig.Route route =
          new GatewayConfig.Route(name, match, cluster, timeout, maxTimeout, routeRest, auth,
              limits, retry, split, canary, ipRules, faults, mirror, cache, fallback, hedging);
      for (int j = 0; j < routes.size(); j++) {
        GatewayConfig.Route earlier = routes.get(j);
        if (match != null && earlier.match() != null && shadows(earlier.match(), match)) {
          reader.error(r.node("match"), r.child("match"), "can never match: "
              + earlier.name() + " (routes[" + j + "]) comes first and takes every call this"
              + " one would");
          break;
        }
      }
      routes.add(route);
    }
    return routes;
  }

  private GatewayConfig.Match match(ConfigReader.Obj m) {
    String service = m.string("service", null);
    String prefix = m.string("servicePrefix", null);
    String method = m.string("method", null);
    List<String> authorities = m.strings("authority");
    if ((service == null) == (prefix == null) && m.node != null) {
      reader.error(m.node, m.path, "needs exactly one of 'service' (a full service name such as"
          + " acme.orders.v1.OrderService) or 'servicePrefix' (\"\" matches every service)");
    }
    if (service != null && (service.isEmpty() || service.contains("/"))) {
      reader.error(m.node("service"), m.child("service"), "'" + service
          + "' is not a service name (expected: package.Service, without slashes)");
    }
    if (method != null && (method.isEmpty() || method.contains("/"))) {
      reader.error(m.node("method"), m.child("method"),
          "'" + method + "' is not a method name (expected: the bare name, e.g. GetUser)");
    }
    m.finish();
    return new GatewayConfig.Match(service, prefix, method,
        authorities.stream().map(a -> a.toLowerCase(java.util.Locale.ROOT))
            .collect(Collectors.toList()));
  }

  private List<GatewayConfig.WeightedCluster> split(ConfigReader.Obj route,
      Map<String, GatewayConfig.Cluster> clusters) {
    List<GatewayConfig.WeightedCluster> split = new ArrayList<>();
    List<Node> items = route.list("split");
    for (int i = 0; i < items.size(); i++) {
      ConfigReader.Obj w = reader.item(items.get(i), route.child("split") + "[" + i + "]");
      String cluster = w.requiredString("cluster");
      if (cluster != null && !clusters.containsKey(cluster)) {
        reader.error(w.node("cluster"), w.child("cluster"), "'" + cluster
            + "' is not a defined cluster (defined: " + String.join(", ", clusters.keySet())
            + ")");
      }
      int weight = w.integer("weight", 1, 0, 1_000_000);
      w.finish();
      if (cluster != null) {
        split.add(new GatewayConfig.WeightedCluster(cluster, weight));
      }
    }
    if (!items.isEmpty() && split.stream().mapToInt(GatewayConfig.WeightedCluster::weight)
        .sum() == 0) {
      reader.error(route.node("split"), route.child("split"), "weights add up to 0 (expected:"
          + " at least one cluster with a positive weight)");
    }
    return split;
  }

  private List<GatewayConfig.CanaryRule> canary(ConfigReader.Obj route,
      Map<String, GatewayConfig.Cluster> clusters, GatewayConfig.RouteAuth auth) {
    List<GatewayConfig.CanaryRule> rules = new ArrayList<>();
    List<Node> items = route.list("canary");
    for (int i = 0; i < items.size(); i++) {
      ConfigReader.Obj c = reader.item(items.get(i), route.child("canary") + "[" + i + "]");
      String header = c.string("header", null);
      String claim = c.string("claim", null);
      String value = c.requiredString("value");
      String cluster = c.requiredString("cluster");
      if ((header == null) == (claim == null)) {
        reader.error(c.node, c.path, "needs exactly one of header or claim");
      } else if (claim != null && (auth == null || !auth.requiresToken())) {
        reader.error(c.node("claim"), c.child("claim"), "a claim rule needs the route to"
            + " require a token (auth:)");
      }
      if (cluster != null && !clusters.containsKey(cluster)) {
        reader.error(c.node("cluster"), c.child("cluster"), "'" + cluster
            + "' is not a defined cluster (defined: " + String.join(", ", clusters.keySet())
            + ")");
      }
      c.finish();
      rules.add(new GatewayConfig.CanaryRule(
          header == null ? null : header.toLowerCase(java.util.Locale.ROOT), claim, value,
          cluster));
    }
    return rules;
  }

  /** Whether every call {@code later} matches is taken by {@code earlier} first. */
  private static boolean shadows(GatewayConfig.Match earlier, GatewayConfig.Match later) {
    boolean services;
    if (earlier.service() != null) {
      services = earlier.service().equals(later.service());
    } else {
      String laterScope = later.service() != null ? later.service() : later.servicePrefix();
      services = laterScope != null && earlier.servicePrefix() != null
          && laterScope.startsWith(earlier.servicePrefix());
    }
    boolean methods = earlier.method() == null || earlier.method().equals(later.method());
    boolean authorities = earlier.authorities().isEmpty()
        || (!later.authorities().isEmpty()
            && earlier.authorities().containsAll(later.authorities()));
    return services && methods && authorities;
  }

  /** A route's {@code faults:}, or null. */
  private GatewayConfig.Faults faults(ConfigReader.Obj f) {
    if (f == null) {
      return null;
    }
    double abortPercent = 0;
    io.grpc.Status.Code code = io.grpc.Status.Code.UNAVAILABLE;
    ConfigReader.Obj abort = f.obj("abort");
    if (abort != null) {
      abortPercent = abort.decimal("percent", 100, 0, 100);
      String name = abort.string("status", "UNAVAILABLE");
      try {
        code = io.grpc.Status.Code.valueOf(name.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        reader.error(abort.node("status"), abort.child("status"), "'" + name + "' is not a gRPC"
            + " status code (expected e.g. UNAVAILABLE, INTERNAL, RESOURCE_EXHAUSTED)");
      }
      if (code == io.grpc.Status.Code.OK) {
        reader.error(abort.node("status"), abort.child("status"), "an abort needs a failing"
            + " status, not OK");
      }
      abort.finish();
    }
    double delayPercent = 0;
    java.time.Duration delay = java.time.Duration.ZERO;
    ConfigReader.Obj d = f.obj("delay");
    if (d != null) {
      delayPercent = d.decimal("percent", 100, 0, 100);
      delay = d.duration("duration", java.time.Duration.ofMillis(100), java.time.Duration.ZERO,
          java.time.Duration.ofMinutes(10));
      d.finish();
    }
    boolean headerControl = f.bool("headerControl", false);
    f.finish();
    return new GatewayConfig.Faults(abortPercent, code, delayPercent, delay, headerControl);
  }
}
