package io.meshgate.transcoder;

import com.google.api.AnnotationsProto;
import com.google.api.HttpRule;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code google.api.http} rules of a set of services, compiled into a trie of path segments
 * (one per custom verb): a request is matched in one walk down the trie, literal segments before
 * {@code *} before {@code **}, not by trying every rule in turn. Rules that would match the same
 * requests are reported when the table is built. Immutable and thread-safe.
 */
public final class HttpRouteTable {
  private final List<HttpRoute> routes;
  private final Map<String, Node> roots; // by verb; "" for no verb

  private HttpRouteTable(List<HttpRoute> routes, Map<String, Node> roots) {
    this.routes = Collections.unmodifiableList(routes);
    this.roots = roots;
  }

  /**
   * Compiles the {@code google.api.http} rules of every service of the pool (methods without a
   * rule get none: they are not reachable over REST).
   *
   * @throws DescriptorException listing every rule that is malformed, names a missing field, or
   *     would match the same requests as another
   */
  public static HttpRouteTable compile(DescriptorPool pool) throws DescriptorException {
    List<String> errors = new ArrayList<>();
    List<HttpRoute> routes = new ArrayList<>();
    Map<String, HttpRoute> shapes = new LinkedHashMap<>();
    for (ServiceDescriptor service : pool.services().values()) {
      for (MethodDescriptor method : service.getMethods()) {
        if (!method.getOptions().hasExtension(AnnotationsProto.http)) {
          continue;
        }
        HttpRule rule = method.getOptions().getExtension(AnnotationsProto.http);
        List<HttpRule> bindings = new ArrayList<>();
        bindings.add(rule);
        for (HttpRule additional : rule.getAdditionalBindingsList()) {
          if (additional.getAdditionalBindingsCount() > 0) {
            errors.add(where(method) + ": additional_bindings may not nest");
          }
          bindings.add(additional);
        }
        for (HttpRule binding : bindings) {
          try {
            HttpRoute route = route(method, binding);
            String key = route.httpMethod() + " " + route.template().shape();
            HttpRoute clash = shapes.putIfAbsent(key, route);
            if (clash != null) {
              errors.add("ambiguous rules: " + route.httpMethod() + " " + route.pathTemplate()
                  + " (" + where(method) + ") and " + clash.httpMethod() + " "
                  + clash.pathTemplate() + " (" + where(clash.method())
                  + ") match the same requests");
              continue;
            }
            routes.add(route);
          } catch (IllegalArgumentException e) {
            errors.add(where(method) + ": " + e.getMessage());
          }
        }
      }
    }
    if (!errors.isEmpty()) {
      throw new DescriptorException(String.join("\n", errors));
    }
    Map<String, Node> roots = new HashMap<>();
    for (HttpRoute route : routes) {
      String verb = route.template().verb() == null ? "" : route.template().verb();
      roots.computeIfAbsent(verb, v -> new Node()).insert(route);
    }
    return new HttpRouteTable(routes, roots);
  }

  private static String where(MethodDescriptor method) {
    return method.getService().getFullName() + "." + method.getName();
  }

  private static HttpRoute route(MethodDescriptor method, HttpRule rule) {
    String httpMethod;
    String path;
    switch (rule.getPatternCase()) {
      case GET -> {
        httpMethod = "GET";
        path = rule.getGet();
      }
      case PUT -> {
        httpMethod = "PUT";
        path = rule.getPut();
      }
      case POST -> {
        httpMethod = "POST";
        path = rule.getPost();
      }
      case DELETE -> {
        httpMethod = "DELETE";
        path = rule.getDelete();
      }
      case PATCH -> {
        httpMethod = "PATCH";
        path = rule.getPatch();
      }
      case CUSTOM -> {
        httpMethod = rule.getCustom().getKind().toUpperCase(Locale.ROOT);
        path = rule.getCustom().getPath();
        if (httpMethod.isEmpty()) {
          throw new IllegalArgumentException("custom rule without a kind");
        }
      }
      default -> throw new IllegalArgumentException("http rule without a pattern"
          + " (expected: get, put, post, delete, patch or custom)");
    }
    PathTemplate template = PathTemplate.parse(path);
    Descriptor request = method.getInputType();
    List<List<FieldDescriptor>> pathFields = new ArrayList<>();
    for (PathTemplate.Variable variable : template.variables()) {
      List<FieldDescriptor> fields = resolve(request, variable.fieldPath());
      FieldDescriptor last = fields.get(fields.size() - 1);
      if (last.isRepeated() || last.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        throw new IllegalArgumentException("path variable '"
            + String.join(".", variable.fieldPath()) + "' must be a singular scalar field");
      }
      pathFields.add(fields);
    }
    String body = rule.getBody().isEmpty() ? null : rule.getBody();
    FieldDescriptor bodyField = null;
    if (body != null && !body.equals("*")) {
      bodyField = request.findFieldByName(body);
      if (bodyField == null) {
        throw new IllegalArgumentException("body '" + body + "' is not a field of "
            + request.getFullName());
      }
    }
    FieldDescriptor responseBodyField = null;
    if (!rule.getResponseBody().isEmpty()) {
      responseBodyField = method.getOutputType().findFieldByName(rule.getResponseBody());
      if (responseBodyField == null) {
        throw new IllegalArgumentException("response_body '" + rule.getResponseBody()
            + "' is not a field of " + method.getOutputType().getFullName());
      }
    }
    return new HttpRoute(httpMethod, template, method, body, bodyField, responseBodyField,
        List.copyOf(pathFields));
  }

  /** The fields along a dotted path, from the request type down. */
  static List<FieldDescriptor> resolve(Descriptor type, List<String> path) {
    List<FieldDescriptor> fields = new ArrayList<>();
    Descriptor current = type;
    for (int i = 0; i < path.size(); i++) {
      if (current == null) {
        throw new IllegalArgumentException("'" + String.join(".", path.subList(0, i))
            + "' is not a message field, so '" + path.get(i) + "' cannot be inside it");
      }
      FieldDescriptor field = current.findFieldByName(path.get(i));
      if (field == null) {
        throw new IllegalArgumentException("'" + String.join(".", path) + "': "
            + current.getFullName() + " has no field '" + path.get(i) + "'");
      }
      fields.add(field);
      current = field.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !field.isRepeated()
          ? field.getMessageType() : null;
    }
    return fields;
  }

  /** Every compiled route. */
  public List<HttpRoute> routes() {
    return routes;
  }

  /**
   * Matches a request.
   *
   * @param httpMethod the request method
   * @param rawPath the request path, still percent-encoded, without the query
   */
  public RouteMatch match(String httpMethod, String rawPath) {
    if (rawPath.isEmpty() || rawPath.charAt(0) != '/') {
      return RouteMatch.notFound();
    }
    String[] raw = rawPath.substring(1).split("/", -1);
    Set<String> allowed = new TreeSet<>();
    String last = raw[raw.length - 1];
    int colon = last.lastIndexOf(':');
    if (colon > 0) {
      Node verbRoot = roots.get(PercentDecoding.decodeFully(last.substring(colon + 1)));
      if (verbRoot != null) {
        String[] withoutVerb = raw.clone();
        withoutVerb[withoutVerb.length - 1] = last.substring(0, colon);
        RouteMatch found = find(verbRoot, httpMethod, withoutVerb, allowed);
        if (found != null) {
          return found;
        }
      }
    }
    Node root = roots.get("");
    if (root != null) {
      RouteMatch found = find(root, httpMethod, raw, allowed);
      if (found != null) {
        return found;
      }
    }
    return allowed.isEmpty() ? RouteMatch.notFound() : RouteMatch.methodNotAllowed(allowed);
  }

  private static RouteMatch find(Node root, String httpMethod, String[] raw,
      Set<String> allowed) {
    String[] decoded = new String[raw.length];
    for (int i = 0; i < raw.length; i++) {
      decoded[i] = PercentDecoding.decodeFully(raw[i]);
    }
    HttpRoute route = root.find(httpMethod, decoded, 0, allowed);
    if (route == null) {
      return null;
    }
    List<String> values = new ArrayList<>(route.template().variables().size());
    for (PathTemplate.Variable variable : route.template().variables()) {
      int end = variable.end() == route.template().segments().size()
          && route.template().endsWithMulti() ? raw.length : variable.end();
      if (variable.multiSegment()) {
        values.add(PercentDecoding.decodeKeepingSlashes(
            String.join("/", java.util.Arrays.asList(raw).subList(variable.start(), end))));
      } else {
        values.add(decoded[variable.start()]);
      }
    }
    return RouteMatch.found(route, values);
  }

  /** A trie node: the routes that end here, and where the next segment leads. */
  private static final class Node {
    private final Map<String, Node> literals = new HashMap<>();
    private Node single;
    private final Map<String, HttpRoute> endsHere = new HashMap<>();
    private final Map<String, HttpRoute> restHere = new HashMap<>(); // ** at this position

    void insert(HttpRoute route) {
      Node node = this;
      for (PathTemplate.Segment segment : route.template().segments()) {
        switch (segment.kind()) {
          case LITERAL -> node = node.literals.computeIfAbsent(segment.literal(), s -> new Node());
          case SINGLE -> {
            if (node.single == null) {
              node.single = new Node();
            }
            node = node.single;
          }
          case MULTI -> {
            node.restHere.put(route.httpMethod(), route);
            return;
          }
          default -> throw new IllegalStateException();
        }
      }
      node.endsHere.put(route.httpMethod(), route);
    }

    /** Depth first, literal before {@code *} before {@code **}. */
    HttpRoute find(String httpMethod, String[] segments, int index, Set<String> allowed) {
      if (index == segments.length) {
        allowed.addAll(endsHere.keySet());
        HttpRoute route = endsHere.get(httpMethod);
        if (route != null) {
          return route;
        }
      } else {
        Node literal = literals.get(segments[index]);
        if (literal != null) {
          HttpRoute route = literal.find(httpMethod, segments, index + 1, allowed);
          if (route != null) {
            return route;
          }
        }
        if (single != null && !segments[index].isEmpty()) {
          HttpRoute route = single.find(httpMethod, segments, index + 1, allowed);
          if (route != null) {
            return route;
          }
        }
      }
      allowed.addAll(restHere.keySet());
      return restHere.get(httpMethod);
    }
  }
}
