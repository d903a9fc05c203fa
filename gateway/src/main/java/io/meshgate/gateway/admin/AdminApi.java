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

  /**
   * Checks a configuration document without applying it (a dry run).
   *
   * @return every error, each with its place in the document; empty when it is valid
   */
  List<String> validate(String yaml);
}
