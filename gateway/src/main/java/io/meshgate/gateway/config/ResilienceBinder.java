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
    double ratio = 0.2;
    int minPerSecond = 10;
    ConfigReader.Obj b = r.obj("budget");
    if (b != null) {
      ratio = b.decimal("ratio", ratio, 0, 10);
      minPerSecond = b.integer("minPerSecond", minPerSecond, 0, 1_000_000);
      b.finish();
    }
    r.finish();
    return new GatewayConfig.Retry(codes, attempts, initial, max, multiplier, perTry, buffer,
        ratio, minPerSecond);
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
