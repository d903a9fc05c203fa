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
        c.addProperty("circuitBreaker", cluster.circuitBreaker().state());
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
      r.add("match", match);
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
      r.add("policies", policies);
      list.add(r);
    }
    return list.toString();
  }

  /** A {@code google.rpc.Status}-shaped error. */
  static String error(int code, String message) {
    JsonObject o = new JsonObject();
    o.addProperty("code", code);
    o.addProperty("message", message);
    return o.toString();
  }
}
