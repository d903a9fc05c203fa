package io.meshgate.gateway.admin;

import java.util.List;

/**
 * What the admin API shows of a running gateway and checks for it. Each method returns a JSON
 * document; all are safe to call from any thread.
 */
public interface AdminApi {
  /** The running configuration: version, source, when applied, route and cluster names. */
  String config();

  /** The upstream clusters: target, policy, endpoints, channel states, circuit breaker. */
  String clusters();

  /** The routes in match order: match, clusters, policies. */
  String routes();

  /** The last configuration changes, newest first, refused ones with their full errors. */
  default String reloads() {
    return "[]";
  }

  /** Calls, errors, p50 and p99 per route and cluster over the last 15 minutes. */
  default String traffic() {
    return "{\"series\":{}}";
  }

  /** The services and methods of the loaded descriptors, each with a request template. */
  default String services() {
    return "[]";
  }

  /**
   * Sends a call through the gateway (the console's call tester) and reports its events as
   * JSON lines to {@code events}, then runs {@code done}; any thread.
   */
  default void call(String body, java.util.function.Consumer<String> events, Runnable done) {
    events.accept("{\"event\":\"error\",\"message\":\"no call tester here\"}");
    done.run();
  }

  /** Sends a REST request through the gateway's main port and describes the answer. */
  default String http(String body) throws Exception {
    throw new UnsupportedOperationException("no REST tester here");
  }

  /** The OpenAPI 3.1 document (JSON) of the REST API the loaded descriptors define. */
  String openApi();

  /**
   * Checks a configuration document without applying it (a dry run).
   *
   * @return every error, each with its place in the document; empty when it is valid
   */
  List<String> validate(String yaml);

  /** The outcome of a change: applied (with the new version), refused, or not possible. */
  record Change(int httpStatus, String json) {}

  /**
   * Adds or replaces a route or cluster by name ({@code section}: routes or clusters), in the
   * configuration store, which applies it.
   */
  Change put(String section, String name, String body);

  /** Deletes a route or cluster by name from the configuration store, which applies it. */
  Change delete(String section, String name);
}
