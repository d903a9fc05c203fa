package io.meshgate.gateway.admin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.grpc.ConnectivityState;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.route.Running;
import io.meshgate.gateway.upstream.UpstreamCluster;

/** The admin API's JSON views of a running configuration. Stateless. */
final class AdminJson {
  private AdminJson() {}

  /** Version, source, revision (0: none), when applied, route and cluster names. */
  static String config(Running running, long revision) {
    JsonObject o = new JsonObject();
    o.addProperty("version", running.version());
    o.addProperty("source", running.config().source());
    if (revision > 0) {
      o.addProperty("revision", revision);
    }
    o.addProperty("appliedAt", running.appliedAt().toString());
    JsonArray routeNames = new JsonArray();
    running.config().routes().forEach(r -> routeNames.add(r.name()));
    o.add("routes", routeNames);
    JsonArray clusterNames = new JsonArray();
    running.config().clusters().forEach(c -> clusterNames.add(c.name()));
    o.add("clusters", clusterNames);
    return o.toString();
  }

  /** Each cluster: target, policy, endpoint count, channels by state, breaker state. */
  static String clusters(Running running) {
    JsonArray list = new JsonArray();
    for (UpstreamCluster cluster : running.clusters().values()) {
      JsonObject c = new JsonObject();
      c.addProperty("name", cluster.name());
      c.addProperty("target", cluster.target());
      c.addProperty("lbPolicy", cluster.config().lbPolicy());
      int endpoints = cluster.endpointCount();
      if (endpoints >= 0) {
        c.addProperty("endpoints", endpoints);
      }
      JsonObject states = new JsonObject();
      for (ConnectivityState state : ConnectivityState.values()) {
        int n = cluster.channelsIn(state);
        if (n > 0) {
          states.addProperty(state.name(), n);
        }
      }
      c.add("channels", states);
      if (cluster.circuitBreaker() != null) {
        io.meshgate.gateway.resilience.ClusterCircuitBreaker.Figures f =
            cluster.circuitBreaker().figures();
        c.addProperty("circuitBreaker", f.state());
        JsonObject breaker = new JsonObject();
        breaker.addProperty("state", f.state());
        breaker.addProperty("failureRatePercent", f.failureRate());
        breaker.addProperty("slowCallRatePercent", f.slowCallRate());
        breaker.addProperty("calls", f.calls());
        breaker.addProperty("refused", f.notPermitted());
        c.add("breaker", breaker);
      }
      if (cluster.config().healthCheckService() != null) {
        c.addProperty("healthCheckService", cluster.config().healthCheckService());
      }
      java.util.List<io.meshgate.resolver.EndpointStates.EndpointState> seen =
          cluster.endpoints();
      if (seen != null) {
        JsonArray list2 = new JsonArray();
        for (io.meshgate.resolver.EndpointStates.EndpointState e : seen) {
          JsonObject o = new JsonObject();
          o.addProperty("address", e.address());
          if (e.zone() != null) {
            o.addProperty("zone", e.zone());
          }
          o.addProperty("weight", e.weight());
          o.addProperty("connectivity", e.connectivity());
          if (e.problem() != null) {
            o.addProperty("problem", e.problem());
          }
          o.addProperty("ejected", e.ejected());
          if (e.ejectedUntil() != null) {
            o.addProperty("ejectedUntil", e.ejectedUntil().toString());
          }
          o.addProperty("ejections", e.ejections());
          o.addProperty("inFlight", e.inFlight());
          o.addProperty("channels", e.balancers());
          list2.add(o);
        }
        c.add("endpointStates", list2);
      } else {
        c.addProperty("endpointStatesNote", "lbPolicy " + cluster.config().lbPolicy()
            + " is grpc's own and reports no endpoints; Meshgate's policies"
            + " (meshgate_weighted_round_robin, meshgate_least_request, ...) do");
      }
      list.add(c);
    }
    return list.toString();
  }

  /** The routes in match order: name, match, cluster or split, policy names. */
  static String routes(GatewayConfig config) {
    JsonArray list = new JsonArray();
    for (GatewayConfig.Route route : config.routes()) {
      JsonObject r = new JsonObject();
      r.addProperty("name", route.name());
      JsonObject match = new JsonObject();
      if (route.match().service() != null) {
        match.addProperty("service", route.match().service());
      }
      if (route.match().servicePrefix() != null) {
        match.addProperty("servicePrefix", route.match().servicePrefix());
      }
      if (route.match().method() != null) {
        match.addProperty("method", route.match().method());
      }
      if (!route.match().authorities().isEmpty()) {
        JsonArray authorities = new JsonArray();
        route.match().authorities().forEach(authorities::add);
        match.add("authority", authorities);
      }
      r.add("match", match);
      if (route.timeout() != null) {
        r.addProperty("timeout", route.timeout().toMillis() + "ms");
      }
      if (route.maxTimeout() != null) {
        r.addProperty("maxTimeout", route.maxTimeout().toMillis() + "ms");
      }
      if (!route.canary().isEmpty()) {
        JsonArray canary = new JsonArray();
        for (GatewayConfig.CanaryRule rule : route.canary()) {
          JsonObject e = new JsonObject();
          e.addProperty(rule.header() != null ? "header" : "claim",
              rule.header() != null ? rule.header() : rule.claim());
          e.addProperty("value", rule.value());
          e.addProperty("cluster", rule.cluster());
          canary.add(e);
        }
        r.add("canaryRules", canary);
      }
      if (route.split().isEmpty()) {
        r.addProperty("cluster", route.cluster());
      } else {
        JsonArray split = new JsonArray();
        for (GatewayConfig.WeightedCluster w : route.split()) {
          JsonObject e = new JsonObject();
          e.addProperty("cluster", w.cluster());
          e.addProperty("weight", w.weight());
          split.add(e);
        }
        r.add("split", split);
      }
      JsonArray policies = new JsonArray();
      if (route.auth() != null && route.auth().requiresToken()) {
        policies.add("auth");
      }
      if (route.auth() != null && !route.auth().principals().isEmpty()) {
        policies.add("principals");
      }
      if (!route.rateLimits().isEmpty()) {
        policies.add("rateLimits");
      }
      if (route.retry() != null) {
        policies.add("retry");
      }
      if (!route.canary().isEmpty()) {
        policies.add("canary");
      }
      if (route.ipRules() != null) {
        policies.add("ipRules");
      }
      if (route.faults() != null) {
        policies.add("faults");
      }
      if (route.mirror() != null) {
        policies.add("mirror");
      }
      if (route.cache() != null) {
        policies.add("cache");
      }
      if (route.fallback() != null) {
        policies.add("fallback");
      }
      if (route.hedging() != null) {
        policies.add("hedging");
      }
      r.add("policies", policies);
      list.add(r);
    }
    return list.toString();
  }

  /** The last configuration changes, newest first, refused ones with their errors. */
  static String reloads(java.util.List<io.meshgate.gateway.config.ReloadHistory.Entry> entries) {
    JsonArray list = new JsonArray();
    for (io.meshgate.gateway.config.ReloadHistory.Entry e : entries) {
      JsonObject o = new JsonObject();
      o.addProperty("at", e.at().toString());
      o.addProperty("source", e.source());
      o.addProperty("applied", e.applied());
      o.addProperty("message", e.message());
      o.addProperty("version", e.version());
      list.add(o);
    }
    return list.toString();
  }

  /** The traffic history: per series, its intervals (end, calls, errors, p50, p99). */
  static String traffic(java.util.Map<String, java.util.List<
      io.meshgate.gateway.telemetry.TrafficHistory.Sample>> history) {
    JsonObject o = new JsonObject();
    o.addProperty("intervalMillis", io.meshgate.gateway.telemetry.TrafficHistory.INTERVAL_MILLIS);
    JsonObject series = new JsonObject();
    history.forEach((name, samples) -> {
      JsonArray list = new JsonArray();
      for (io.meshgate.gateway.telemetry.TrafficHistory.Sample s : samples) {
        JsonArray row = new JsonArray();
        row.add(s.endMillis());
        row.add(s.calls());
        row.add(s.errors());
        row.add(s.p50Millis());
        row.add(s.p99Millis());
        list.add(row);
      }
      series.add(name, list);
    });
    o.add("series", series);
    return o.toString();
  }

  /** A {@code google.rpc.Status}-shaped error. */
  static String error(int code, String message) {
    JsonObject o = new JsonObject();
    o.addProperty("code", code);
    o.addProperty("message", message);
    return o.toString();
  }
}
