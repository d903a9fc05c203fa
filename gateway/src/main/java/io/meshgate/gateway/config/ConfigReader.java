package io.meshgate.gateway.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Typed, error-collecting access to a composed YAML tree. Every accessor records what it expected
 * and, instead of throwing, adds a {@link ConfigError} with the node's line and column; the
 * caller gets a default and carries on, so one pass reports every error in the document.
 */
final class ConfigReader {
  private static final Pattern DURATION =
      Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|ms|s|m|h)");
  private static final Pattern SIZE =
      Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|KB|MB|GB)?");

  private final String source;
  private final List<ConfigError> errors = new ArrayList<>();

  ConfigReader(String source) {
    this.source = source;
  }

  List<ConfigError> errors() {
    return errors;
  }

  void error(Node node, String path, String message) {
    Mark mark = node == null ? null : node.getStartMark();
    errors.add(new ConfigError(source,
        mark == null ? 0 : mark.getLine() + 1, mark == null ? 0 : mark.getColumn() + 1,
        path, message));
  }

  /** A mapping in the document. Unknown keys are reported by {@link #finish()}. */
  final class Obj {
    final Node node;
    final String path;
    private final Map<String, NodeTuple> entries = new LinkedHashMap<>();
    private final Set<String> known = new LinkedHashSet<>();

    Obj(Node node, String path) {
      this.node = node;
      this.path = path;
      if (node instanceof MappingNode mapping) {
        for (NodeTuple tuple : mapping.getValue()) {
          if (tuple.getKeyNode() instanceof ScalarNode key) {
            NodeTuple first = entries.putIfAbsent(key.getValue(), tuple);
            if (first != null) {
              error(key, child(key.getValue()), "duplicate key (first set on line "
                  + (first.getKeyNode().getStartMark().getLine() + 1) + ")");
            }
          } else {
            error(tuple.getKeyNode(), path, "keys must be plain strings");
          }
        }
      }
    }

    String child(String key) {
      return path.isEmpty() ? key : path + "." + key;
    }

    /** The keys of this mapping, in order (for maps whose keys are names the user picks). */
    List<String> keys() {
      return List.copyOf(entries.keySet());
    }

    boolean has(String key) {
      known.add(key);
      NodeTuple tuple = entries.get(key);
      return tuple != null && !isNull(tuple.getValueNode());
    }

    /** The value node of key, or null when absent or null. */
    Node node(String key) {
      known.add(key);
      NodeTuple tuple = entries.get(key);
      return tuple == null || isNull(tuple.getValueNode()) ? null : tuple.getValueNode();
    }

    /** A nested mapping, or null when absent. */
    Obj obj(String key) {
      Node value = node(key);
      if (value == null) {
        return null;
      }
      if (!(value instanceof MappingNode)) {
        error(value, child(key), "expected a mapping (key: value lines), got " + describe(value));
        return null;
      }
      return new Obj(value, child(key));
    }

    /** A nested mapping that must be present; an empty one stands in when it is not. */
    Obj requiredObj(String key) {
      Obj obj = obj(key);
      if (obj == null) {
        if (node(key) == null) {
          error(node, child(key), "is required");
        }
        return new Obj(null, child(key));
      }
      return obj;
    }

    /** The items of a sequence, or an empty list when absent. */
    List<Node> list(String key) {
      Node value = node(key);
      if (value == null) {
        return List.of();
      }
      if (!(value instanceof SequenceNode sequence)) {
        error(value, child(key), "expected a list, got " + describe(value));
        return List.of();
      }
      return sequence.getValue();
    }

    String string(String key, String defaultValue) {
      Node value = node(key);
      if (value == null) {
        return defaultValue;
      }
      if (!(value instanceof ScalarNode scalar)) {
        error(value, child(key), "expected a string, got " + describe(value));
        return defaultValue;
      }
      return scalar.getValue();
    }

    String requiredString(String key) {
      String value = string(key, null);
      if (value == null && node(key) == null) {
        error(node, child(key), "is required");
      } else if (value != null && value.isBlank()) {
        error(node(key), child(key), "must not be empty");
        return null;
      }
      return value;
    }

    List<String> strings(String key) {
      Node value = node(key);
      if (value == null) {
        return List.of();
      }
      if (value instanceof ScalarNode scalar) {
        return List.of(scalar.getValue());
      }
      List<String> result = new ArrayList<>();
      List<Node> items = list(key);
      for (int i = 0; i < items.size(); i++) {
        if (items.get(i) instanceof ScalarNode scalar) {
          result.add(scalar.getValue());
        } else {
          error(items.get(i), child(key) + "[" + i + "]",
              "expected a string, got " + describe(items.get(i)));
        }
      }
      return result;
    }

    /** A mapping of plain strings to plain strings, in document order; empty when absent. */
    Map<String, String> stringMap(String key) {
      Node value = node(key);
      Map<String, String> result = new LinkedHashMap<>();
      if (value == null) {
        return result;
      }
      if (!(value instanceof MappingNode mapping)) {
        error(value, child(key), "expected a mapping (name: value), got " + describe(value));
        return result;
      }
      for (NodeTuple tuple : mapping.getValue()) {
        if (tuple.getKeyNode() instanceof ScalarNode k
            && tuple.getValueNode() instanceof ScalarNode v) {
          if (result.putIfAbsent(k.getValue(), v.getValue()) != null) {
            error(k, child(key) + "." + k.getValue(), "duplicate key");
          }
        } else {
          error(tuple.getKeyNode(), child(key), "expected plain string keys and values");
        }
      }
      return result;
    }

    boolean bool(String key, boolean defaultValue) {
      String text = string(key, null);
      if (text == null) {
        return defaultValue;
      }
      switch (text.toLowerCase(Locale.ROOT)) {
        case "true", "yes", "on" -> {
          return true;
        }
        case "false", "no", "off" -> {
          return false;
        }
        default -> {
          error(node(key), child(key), "'" + text + "' is not a boolean (expected: true or false)");
          return defaultValue;
        }
      }
    }

    int integer(String key, int defaultValue, int min, int max) {
      String text = string(key, null);
      if (text == null) {
        return defaultValue;
      }
      try {
        long value = Long.parseLong(text.replace("_", ""));
        if (value < min || value > max) {
          error(node(key), child(key), value + " is out of range (expected: " + min + ".." + max + ")");
          return defaultValue;
        }
        return (int) value;
      } catch (NumberFormatException e) {
        error(node(key), child(key), "'" + text + "' is not an integer");
        return defaultValue;
      }
    }

    double decimal(String key, double defaultValue, double min, double max) {
      String text = string(key, null);
      if (text == null) {
        return defaultValue;
      }
      try {
        double value = Double.parseDouble(text);
        if (!(value >= min && value <= max)) {
          error(node(key), child(key), text + " is out of range (expected: " + min + ".." + max + ")");
          return defaultValue;
        }
        return value;
      } catch (NumberFormatException e) {
        error(node(key), child(key), "'" + text + "' is not a number");
        return defaultValue;
      }
    }

    /**
     * A watermark: a share of a maximum ({@code 90%}) or a byte size ({@code 512MiB}); the
     * default is a share.
     */
    GatewayConfig.Threshold threshold(String key, double defaultFraction) {
      String text = string(key, null);
      if (text == null) {
        return new GatewayConfig.Threshold(defaultFraction, 0);
      }
      String trimmed = text.trim();
      if (trimmed.endsWith("%")) {
        try {
          double percent = Double.parseDouble(trimmed.substring(0, trimmed.length() - 1).trim());
          if (percent > 0 && percent <= 100) {
            return new GatewayConfig.Threshold(percent / 100, 0);
          }
        } catch (NumberFormatException e) {
          // reported below
        }
        error(node(key), child(key), "'" + text + "' is not a share (expected: 1% to 100%)");
        return new GatewayConfig.Threshold(defaultFraction, 0);
      }
      long bytes = bytes(key, 0, 1, Long.MAX_VALUE);
      return bytes > 0 ? new GatewayConfig.Threshold(0, bytes)
          : new GatewayConfig.Threshold(defaultFraction, 0);
    }

    /** A byte size: {@code 1048576}, {@code 64KiB}, {@code 4MiB}, {@code 1GiB}, {@code 10MB}. */
    long bytes(String key, long defaultValue, long min, long max) {
      String text = string(key, null);
      if (text == null) {
        return defaultValue;
      }
      Matcher m = SIZE.matcher(text.trim());
      if (!m.matches()) {
        error(node(key), child(key), "'" + text
            + "' is not a size (expected: a number of bytes, optionally with KiB, MiB or GiB)");
        return defaultValue;
      }
      long multiplier = switch (m.group(2) == null ? "B" : m.group(2)) {
        case "KiB" -> 1024L;
        case "MiB" -> 1024L * 1024;
        case "GiB" -> 1024L * 1024 * 1024;
        case "KB" -> 1000L;
        case "MB" -> 1000L * 1000;
        case "GB" -> 1000L * 1000 * 1000;
        default -> 1L;
      };
      long value;
      try {
        value = Math.multiplyExact(Long.parseLong(m.group(1)), multiplier);
      } catch (ArithmeticException | NumberFormatException e) {
        value = Long.MAX_VALUE;
      }
      if (value < min || value > max) {
        error(node(key), child(key), text + " is out of range (expected: " + min + ".." + max
            + " bytes)");
        return defaultValue;
      }
      return value;
    }

    /** A duration: {@code 250ms}, {@code 1.5s}, {@code 30s}, {@code 5m}, {@code 1h}. */
    Duration duration(String key, Duration defaultValue, Duration min, Duration max) {
      String text = string(key, null);
      if (text == null) {
        return defaultValue;
      }
      Duration value = parseDuration(text.trim());
      if (value == null) {
        error(node(key), child(key), "'" + text
            + "' is not a duration (expected: a number with a unit ns, us, ms, s, m or h, e.g. 1.5s)");
        return defaultValue;
      }
      if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
        error(node(key), child(key), text + " is out of range (expected: " + format(min) + ".."
            + format(max) + ")");
        return defaultValue;
      }
      return value;
    }

    /** Reports keys that no accessor asked for: typos do not pass silently. */
    void finish() {
      for (Map.Entry<String, NodeTuple> entry : entries.entrySet()) {
        if (!known.contains(entry.getKey())) {
          error(entry.getValue().getKeyNode(), child(entry.getKey()),
              "unknown key (expected one of: " + String.join(", ", known) + ")");
        }
      }
    }
  }

  Obj root(Node node) {
    if (node == null) {
      error(null, "", "the document is empty (expected a mapping with clusters and routes)");
      return new Obj(null, "");
    }
    if (!(node instanceof MappingNode)) {
      error(node, "", "expected a mapping at the top level, got " + describe(node));
      return new Obj(null, "");
    }
    return new Obj(node, "");
  }

  Obj item(Node node, String path) {
    if (!(node instanceof MappingNode)) {
      error(node, path, "expected a mapping, got " + describe(node));
      return new Obj(null, path);
    }
    return new Obj(node, path);
  }

  /**
   * A YAML subtree as service-config JSON values: maps, lists, booleans, numbers as Double (as
   * grpc's own JSON parser gives them) and strings.
   */
  static Object toJson(Node node) {
    if (node instanceof MappingNode mapping) {
      Map<String, Object> map = new LinkedHashMap<>();
      for (NodeTuple tuple : mapping.getValue()) {
        map.put(((ScalarNode) tuple.getKeyNode()).getValue(), toJson(tuple.getValueNode()));
      }
      return map;
    }
    if (node instanceof SequenceNode sequence) {
      List<Object> list = new ArrayList<>();
      for (Node item : sequence.getValue()) {
        list.add(toJson(item));
      }
      return list;
    }
    ScalarNode scalar = (ScalarNode) node;
    if (Tag.NULL.equals(scalar.getTag())) {
      return null;
    }
    if (Tag.BOOL.equals(scalar.getTag())) {
      return Boolean.valueOf(scalar.getValue());
    }
    if (Tag.INT.equals(scalar.getTag()) || Tag.FLOAT.equals(scalar.getTag())) {
      try {
        return Double.valueOf(scalar.getValue().replace("_", ""));
      } catch (NumberFormatException e) {
        return scalar.getValue();
      }
    }
    return scalar.getValue();
  }

  static Duration parseDuration(String text) {
    Matcher m = DURATION.matcher(text);
    if (!m.matches()) {
      return null;
    }
    BigDecimal amount = new BigDecimal(m.group(1));
    long nanosPerUnit = switch (m.group(2)) {
      case "ns" -> 1L;
      case "us" -> 1_000L;
      case "ms" -> 1_000_000L;
      case "s" -> 1_000_000_000L;
      case "m" -> 60_000_000_000L;
      default -> 3_600_000_000_000L;
    };
    try {
      return Duration.ofNanos(amount.multiply(BigDecimal.valueOf(nanosPerUnit)).longValueExact());
    } catch (ArithmeticException e) {
      return null;
    }
  }

  static String format(Duration d) {
    if (d.toNanos() % 1_000_000_000L == 0) {
      return d.toSeconds() + "s";
    }
    return d.toMillis() + "ms";
  }

  private static boolean isNull(Node node) {
    return node instanceof ScalarNode scalar && Tag.NULL.equals(scalar.getTag());
  }

  private static String describe(Node node) {
    if (node instanceof MappingNode) {
      return "a mapping";
    }
    if (node instanceof SequenceNode) {
      return "a list";
    }
    return "'" + ((ScalarNode) node).getValue() + "'";
  }
}
