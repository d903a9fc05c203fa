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
