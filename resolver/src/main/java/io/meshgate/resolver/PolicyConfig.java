package io.meshgate.resolver;

import io.grpc.Status;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parsed configuration of one of our load-balancing policies: the keys every policy takes
 * (zone preference, outlier detection) and the policy's own. Immutable.
 *
 * @param localZone the client's zone (prefer instances there), or null for no preference
 * @param minLocalReadyPercent the share of local instances that must be ready to keep traffic
 *     local; below it traffic spills over to every zone
 * @param outliers passive outlier ejection, or null when off
 * @param choiceCount least-request: how many random instances to compare
 * @param hashHeader ring-hash: the request header whose value is hashed, or null (random key)
 * @param pointsPerWeight ring-hash: ring entries per unit of instance weight (ketama-style: an
 *     instance's entries depend on its own weight only, so others joining or leaving never move
 *     keys between the instances that stay)
 * @param maxRingSize ring-hash: most ring entries (when exceeded, every instance's entries are
 *     scaled down alike)
 * @param statesName where the balancer reports its endpoints ({@link EndpointStates#named}),
 *     or null for nowhere
 */
record PolicyConfig(
    String localZone,
    int minLocalReadyPercent,
    OutlierConfig outliers,
    int choiceCount,
    String hashHeader,
    int pointsPerWeight,
    int maxRingSize,
    String statesName) {

  /** System property naming the client's zone for zone preference. */
  static final String ZONE_PROPERTY = "meshgate.zone";
  /** Environment variable naming the client's zone for zone preference. */
  static final String ZONE_ENV = "MESHGATE_ZONE";

  /**
   * Passive outlier ejection: an instance whose calls failed {@code failurePercent} of at least
   * {@code minRequests} calls within {@code window} is ejected for {@code baseEjectionTime}
   * (doubling on each ejection in a row, up to {@code maxEjectionTime}); no more than
   * {@code maxEjectionPercent} of the instances are ejected at once.
   */
  record OutlierConfig(
      int failurePercent,
      int minRequests,
      Duration window,
      Duration baseEjectionTime,
      Duration maxEjectionTime,
      int maxEjectionPercent,
      Set<Status.Code> failureCodes) {

    static final Set<Status.Code> DEFAULT_FAILURE_CODES = Set.copyOf(EnumSet.of(
        Status.Code.UNAVAILABLE, Status.Code.INTERNAL, Status.Code.UNKNOWN,
        Status.Code.DATA_LOSS));
  }

  /** The client's zone when the config names none: system property, then environment. */
  static String defaultZone() {
    String zone = System.getProperty(ZONE_PROPERTY);
    if (zone == null || zone.isBlank()) {
      zone = System.getenv(ZONE_ENV);
    }
    return zone == null || zone.isBlank() ? null : zone;
  }

  /**
   * Parses a policy's JSON config (as grpc hands it over: maps, lists, strings, doubles, booleans).
   *
   * @param ownKeys the keys this policy takes besides the common ones
   * @throws IllegalArgumentException naming the key and what was expected
   */
  static PolicyConfig parse(String policy, Map<String, ?> raw, Set<String> ownKeys) {
    Map<String, ?> json = raw == null ? Map.of() : raw;
    Set<String> known = new LinkedHashSet<>(List.of("localZone", "minLocalReadyPercent",
        "outlierDetection", "statesName"));
    known.addAll(ownKeys);
    for (String key : json.keySet()) {
      if (!known.contains(key)) {
        throw new IllegalArgumentException(policy + ": unknown key '" + key + "' (expected one of: "
            + String.join(", ", known) + ")");
      }
    }
    String zone = string(json, "localZone", defaultZone());
    int minLocal = integer(json, "minLocalReadyPercent", 50, 0, 100);
    OutlierConfig outliers = null;
    Object od = json.get("outlierDetection");
    if (od != null) {
      if (!(od instanceof Map<?, ?> map)) {
        throw new IllegalArgumentException("outlierDetection: expected an object");
      }
      @SuppressWarnings("unchecked")
      Map<String, ?> o = (Map<String, ?>) map;
      for (String key : o.keySet()) {
        if (!List.of("failurePercent", "minRequests", "window", "baseEjectionTime",
            "maxEjectionTime", "maxEjectionPercent", "failureCodes").contains(key)) {
          throw new IllegalArgumentException("outlierDetection: unknown key '" + key
              + "' (expected one of: failurePercent, minRequests, window, baseEjectionTime,"
              + " maxEjectionTime, maxEjectionPercent, failureCodes)");
        }
      }
      Set<Status.Code> codes = OutlierConfig.DEFAULT_FAILURE_CODES;
      if (o.get("failureCodes") instanceof List<?> list) {
        Set<Status.Code> parsed = EnumSet.noneOf(Status.Code.class);
        for (Object code : list) {
          try {
            parsed.add(Status.Code.valueOf(String.valueOf(code)));
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("outlierDetection.failureCodes: '" + code
                + "' is not a gRPC status code name (e.g. UNAVAILABLE)");
          }
        }
        codes = Set.copyOf(parsed);
      }
      Duration base = duration(o, "baseEjectionTime", Duration.ofSeconds(30));
      Duration max = duration(o, "maxEjectionTime", Duration.ofMinutes(5));
      if (max.compareTo(base) < 0) {
        throw new IllegalArgumentException("outlierDetection.maxEjectionTime " + max
            + " is shorter than baseEjectionTime " + base);
      }
      outliers = new OutlierConfig(
          integer(o, "failurePercent", 50, 1, 100),
          integer(o, "minRequests", 10, 1, 1_000_000),
          duration(o, "window", Duration.ofSeconds(10)),
          base, max,
          integer(o, "maxEjectionPercent", 50, 0, 100),
          codes);
    }
    int choices = integer(json, "choiceCount", 2, 2, 10);
    String header = string(json, "hashHeader", null);
    if (header != null) {
      header = header.toLowerCase(java.util.Locale.ROOT);
      if (header.endsWith("-bin") || header.startsWith(":")) {
        throw new IllegalArgumentException("hashHeader: '" + header
            + "' (expected: an ASCII metadata key, not binary, not a pseudo-header)");
      }
    }
    int points = integer(json, "pointsPerWeight", 160, 1, 10_000);
    int maxRing = integer(json, "maxRingSize", 65_536, 1, 8_388_608);
    String statesName = string(json, "statesName", null);
    return new PolicyConfig(zone, minLocal, outliers, choices, header, points, maxRing,
        statesName);
  }

  private static String string(Map<String, ?> json, String key, String fallback) {
    Object value = json.get(key);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof String text) || text.isBlank()) {
      throw new IllegalArgumentException(key + ": expected a non-empty string, got " + value);
    }
    return text;
  }

  private static int integer(Map<String, ?> json, String key, int fallback, int min, int max) {
    Object value = json.get(key);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof Number number) || number.doubleValue() != Math.rint(number.doubleValue())
        || number.doubleValue() < min || number.doubleValue() > max) {
      throw new IllegalArgumentException(key + ": " + value + " (expected: an integer " + min
          + ".." + max + ")");
    }
    return number.intValue();
  }

  /** A duration as grpc service configs write them: {@code "1.5s"}. */
  private static Duration duration(Map<String, ?> json, String key, Duration fallback) {
    Object value = json.get(key);
    if (value == null) {
      return fallback;
    }
    String text = String.valueOf(value);
    if (!text.endsWith("s")) {
      throw new IllegalArgumentException(key + ": '" + text + "' (expected: seconds, e.g. \"30s\")");
    }
    try {
      double seconds = Double.parseDouble(text.substring(0, text.length() - 1));
      if (seconds <= 0) {
        throw new NumberFormatException();
      }
      return Duration.ofNanos((long) (seconds * 1e9));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + ": '" + text + "' (expected: seconds > 0, e.g."
          + " \"30s\")");
    }
  }
}
