package io.meshgate.transcoder;

import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The outcome of matching a request against an {@link HttpRouteTable}: a route with the values
 * of its path variables, no route for the path (404), or routes for the path under other
 * methods (405, with the methods for {@code Allow}). Immutable.
 */
public final class RouteMatch {
  /** What the match found. */
  public enum Kind { FOUND, NOT_FOUND, METHOD_NOT_ALLOWED }

  private static final RouteMatch NOT_FOUND = new RouteMatch(Kind.NOT_FOUND, null, List.of(),
      Set.of());

  private final Kind kind;
  private final HttpRoute route;
  private final List<String> variables;
  private final Set<String> allowedMethods;

  private RouteMatch(Kind kind, HttpRoute route, List<String> variables,
      Set<String> allowedMethods) {
    this.kind = kind;
    this.route = route;
    this.variables = variables;
    this.allowedMethods = allowedMethods;
  }

  static RouteMatch found(HttpRoute route, List<String> variables) {
    return new RouteMatch(Kind.FOUND, route, List.copyOf(variables), Set.of());
  }

  static RouteMatch notFound() {
    return NOT_FOUND;
  }

  static RouteMatch methodNotAllowed(Set<String> allowed) {
    return new RouteMatch(Kind.METHOD_NOT_ALLOWED, null, List.of(),
        Collections.unmodifiableSet(new TreeSet<>(allowed)));
  }

  public Kind kind() {
    return kind;
  }

  /** The route; only for {@link Kind#FOUND}. */
  public HttpRoute route() {
    return route;
  }

  /** The decoded values of the route's path variables, in template order. */
  List<String> variables() {
    return variables;
  }

  /** The methods the path accepts, sorted; only for {@link Kind#METHOD_NOT_ALLOWED}. */
  public Set<String> allowedMethods() {
    return allowedMethods;
  }
}
