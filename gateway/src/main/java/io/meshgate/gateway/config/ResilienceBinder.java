package io.meshgate.gateway.config;

import java.time.Duration;
import java.util.List;

/**
 * Binds a route's {@code retry:} and a cluster's {@code circuitBreaker:}. Errors go to the
 * reader.
 */
final class ResilienceBinder {
  private final ConfigReader reader;
  private final BindContext context;

  ResilienceBinder(ConfigReader reader, BindContext context) {
    this.reader = reader;
    this.context = context;
  }

  GatewayConfig.Retry retry(ConfigReader.Obj r) {
    java.util.Set<io.grpc.Status.Code> codes = statusCodes(r, "codes", List.of("UNAVAILABLE"));
    int attempts = r.integer("maxAttempts", 3, 2, 10);
    Duration initial = r.duration("initialBackoff", Duration.ofMillis(25), Duration.ZERO,
        Duration.ofMinutes(1));
    Duration max = r.duration("maxBackoff", Duration.ofMillis(250), Duration.ZERO,
        Duration.ofMinutes(5));
    if (max.compareTo(initial) < 0) {
      reader.error(r.node("maxBackoff"), r.child("maxBackoff"), ConfigReader.format(max)
          + " is shorter than initialBackoff " + ConfigReader.format(initial));
    }
    double multiplier = r.decimal("backoffMultiplier", 2, 1, 10);
    Duration perTry = r.duration("perTryTimeout", null, Duration.ofMillis(1),
        Duration.ofHours(1));
    int buffer = (int) r.bytes("bufferBytes", 64 * 1024, 0, 16L * 1024 * 1024);
    Budget budget = budget(r);
    r.finish();
    return new GatewayConfig.Retry(codes, attempts, initial, max, multiplier, perTry, buffer,
        budget.ratio(), budget.minPerSecond());
  }

  /** A route's {@code cache:}. */
  GatewayConfig.Cache cache(ConfigReader.Obj c, GatewayConfig.RouteAuth auth) {
    Duration ttl = c.duration("ttl", Duration.ofSeconds(10), Duration.ofMillis(1),
        Duration.ofDays(1));
    long maxBytes = c.bytes("maxBytes", 16L * 1024 * 1024, 1024, 64L * 1024 * 1024 * 1024);
    long maxEntry = c.bytes("maxEntryBytes", 1024 * 1024, 1, maxBytes);
    List<String> headers = c.strings("keyHeaders").stream()
        .map(h -> h.toLowerCase(java.util.Locale.ROOT)).toList();
    List<String> claims = c.strings("keyClaims");
    boolean subject = c.bool("keySubject", false);
    if ((subject || !claims.isEmpty()) && (auth == null || !auth.requiresToken())) {
      reader.error(c.node(subject ? "keySubject" : "keyClaims"),
          c.child(subject ? "keySubject" : "keyClaims"), "a key with the token's subject or"
          + " claims needs the route to require a token (auth:)");
    }
    c.finish();
    return new GatewayConfig.Cache(ttl, maxBytes, maxEntry, headers, claims, subject);
  }

  /** A route's {@code fallback:}. */
  GatewayConfig.Fallback fallback(ConfigReader.Obj f, GatewayConfig.Cache cache) {
    List<String> on = f.has("on") ? f.strings("on") : List.of("breaker", "timeout", "status");
    for (String trigger : on) {
      if (!List.of("breaker", "timeout", "status").contains(trigger)) {
        reader.error(f.node("on"), f.child("on"), "'" + trigger + "' is not a fallback trigger"
            + " (expected: breaker, timeout, status)");
      }
    }
    java.util.Set<io.grpc.Status.Code> codes = on.contains("status")
        ? statusCodes(f, "onCodes", List.of("UNAVAILABLE")) : java.util.Set.of();
    if (!on.contains("status") && f.has("onCodes")) {
      reader.error(f.node("onCodes"), f.child("onCodes"), "onCodes needs 'status' among the"
          + " triggers (on:)");
    }
    Duration stale = f.duration("staleIfError", null, Duration.ofMillis(1), Duration.ofDays(7));
    if (stale != null && cache == null) {
      reader.error(f.node("staleIfError"), f.child("staleIfError"), "stale answers come from"
          + " the route's cache: add cache: to the route");
    }
    String message = null;
    io.grpc.Status.Code status = io.grpc.Status.Code.OK;
    String description = null;
    java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();
    ConfigReader.Obj r = f.obj("response");
    if (r != null) {
      org.yaml.snakeyaml.nodes.Node m = r.node("message");
      if (m != null) {
        message = m instanceof org.yaml.snakeyaml.nodes.ScalarNode scalar ? scalar.getValue()
            : json(m);
      }
      String name = r.string("status", "OK");
      try {
        status = io.grpc.Status.Code.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        reader.error(r.node("status"), r.child("status"), "'" + name + "' is not a gRPC status"
            + " code (expected e.g. OK, UNAVAILABLE)");
      }
      if (message != null && status != io.grpc.Status.Code.OK) {
        reader.error(r.node("status"), r.child("status"), "a fallback answers a message (with"
            + " OK) or a failing status, not both");
      }
      description = r.string("description", null);
      ConfigReader.Obj h = r.obj("headers");
      if (h != null) {
        for (String key : h.keys()) {
          String value = h.string(key, "");
          String lower = key.toLowerCase(java.util.Locale.ROOT);
          if (lower.startsWith("grpc-") || lower.startsWith(":") || lower.endsWith("-bin")) {
            reader.error(h.node(key), h.child(key), "'" + key + "' cannot be set by a fallback"
                + " (grpc-*, pseudo and binary headers are the protocol's)");
          }
          headers.put(lower, value);
        }
        h.finish();
      }
      r.finish();
    }
    if (message == null && status == io.grpc.Status.Code.OK && stale == null) {
      reader.error(f.node, f.path, "needs response.message, response.status or staleIfError:"
          + " what to answer instead");
    }
    f.finish();
    return new GatewayConfig.Fallback(on.contains("breaker"), on.contains("timeout"), codes,
        stale, message, status, description, headers);
  }

  /** A route's {@code hedging:}. */
  GatewayConfig.Hedging hedging(ConfigReader.Obj h) {
    int attempts = h.integer("maxAttempts", 2, 2, 5);
    Duration delay = h.duration("hedgingDelay", Duration.ofMillis(50), Duration.ZERO,
        Duration.ofMinutes(1));
    java.util.Set<io.grpc.Status.Code> codes = statusCodes(h, "nonFatalStatusCodes",
        List.of("UNAVAILABLE"));
    boolean nonIdempotent = h.bool("nonIdempotent", false);
    int buffer = (int) h.bytes("bufferBytes", 64 * 1024, 0, 16L * 1024 * 1024);
    Budget budget = budget(h);
    h.finish();
    return new GatewayConfig.Hedging(attempts, delay, codes, nonIdempotent, buffer,
        budget.ratio(), budget.minPerSecond());
  }

  private record Budget(double ratio, int minPerSecond) {}

  /** The {@code budget:} of a retry or hedging policy: retries per call, plus a floor. */
  private static Budget budget(ConfigReader.Obj policy) {
    double ratio = 0.2;
    int minPerSecond = 10;
    ConfigReader.Obj b = policy.obj("budget");
    if (b != null) {
      ratio = b.decimal("ratio", ratio, 0, 10);
      minPerSecond = b.integer("minPerSecond", minPerSecond, 0, 1_000_000);
      b.finish();
    }
    return new Budget(ratio, minPerSecond);
  }

  /** A YAML value as JSON text. */
  static String json(org.yaml.snakeyaml.nodes.Node node) {
    StringBuilder out = new StringBuilder();
    json(node, out);
    return out.toString();
  }

  private static void json(org.yaml.snakeyaml.nodes.Node node, StringBuilder out) {
    if (node instanceof org.yaml.snakeyaml.nodes.MappingNode mapping) {
      out.append('{');
      boolean first = true;
      for (org.yaml.snakeyaml.nodes.NodeTuple tuple : mapping.getValue()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        quote(((org.yaml.snakeyaml.nodes.ScalarNode) tuple.getKeyNode()).getValue(), out);
        out.append(':');
        json(tuple.getValueNode(), out);
      }
      out.append('}');
    } else if (node instanceof org.yaml.snakeyaml.nodes.SequenceNode sequence) {
      out.append('[');
      for (int i = 0; i < sequence.getValue().size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        json(sequence.getValue().get(i), out);
      }
      out.append(']');
    } else {
      org.yaml.snakeyaml.nodes.ScalarNode scalar = (org.yaml.snakeyaml.nodes.ScalarNode) node;
      org.yaml.snakeyaml.nodes.Tag tag = scalar.getTag();
      if (tag.equals(org.yaml.snakeyaml.nodes.Tag.INT)
          || tag.equals(org.yaml.snakeyaml.nodes.Tag.FLOAT)
          || tag.equals(org.yaml.snakeyaml.nodes.Tag.BOOL)) {
        out.append(scalar.getValue().toLowerCase(java.util.Locale.ROOT));
      } else if (tag.equals(org.yaml.snakeyaml.nodes.Tag.NULL)) {
        out.append("null");
      } else {
        quote(scalar.getValue(), out);
      }
    }
  }

  private static void quote(String text, StringBuilder out) {
    out.append('"');
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  GatewayConfig.CircuitBreaker circuitBreaker(ConfigReader.Obj b) {
    float failureRate = (float) b.decimal("failureRateThreshold", 50, 1, 100);
    float slowRate = (float) b.decimal("slowCallRateThreshold", 100, 1, 100);
    Duration slow = b.duration("slowCallDuration", Duration.ofSeconds(60), Duration.ofMillis(1),
        Duration.ofHours(1));
    String type = b.string("windowType", "count");
    if (!type.equals("count") && !type.equals("time")) {
      reader.error(b.node("windowType"), b.child("windowType"), "'" + type
          + "' is not a window type (expected: count (the last windowSize calls) or time (the"
          + " last windowSize seconds))");
    }
    int size = b.integer("windowSize", 100, 1, 100_000);
    int minimum = b.integer("minimumCalls", 20, 1, 100_000);
    Duration open = b.duration("openDuration", Duration.ofSeconds(30), Duration.ofMillis(1),
        Duration.ofHours(1));
    int halfOpen = b.integer("halfOpenCalls", 5, 1, 1000);
    java.util.Set<io.grpc.Status.Code> codes = statusCodes(b, "failureCodes",
        List.of("UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN"));
    b.finish();
    return new GatewayConfig.CircuitBreaker(failureRate, slowRate, slow, type.equals("time"),
        size, minimum, open, halfOpen, codes);
  }

  private java.util.Set<io.grpc.Status.Code> statusCodes(ConfigReader.Obj o, String key,
      List<String> defaults) {
    java.util.Set<io.grpc.Status.Code> codes = new java.util.LinkedHashSet<>();
    for (String code : o.has(key) ? o.strings(key) : defaults) {
      try {
        codes.add(io.grpc.Status.Code.valueOf(code.trim().toUpperCase(java.util.Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        reader.error(o.node(key), o.child(key), "'" + code
            + "' is not a gRPC status code (expected names such as UNAVAILABLE, INTERNAL)");
      }
    }
    return codes;
  }
}
