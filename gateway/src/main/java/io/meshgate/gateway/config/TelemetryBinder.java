package io.meshgate.gateway.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Binds {@code metrics:}, {@code accessLog:} and {@code tracing:}. Errors go to the reader.
 */
final class TelemetryBinder {
  private final ConfigReader reader;
  private final BindContext context;

  TelemetryBinder(ConfigReader reader, BindContext context) {
    this.reader = reader;
    this.context = context;
  }

  GatewayConfig.Metrics metrics(ConfigReader.Obj o) {
    GatewayConfig.Metrics defaults = GatewayConfig.Metrics.defaults();
    if (o == null) {
      return defaults;
    }
    List<Duration> buckets = defaults.latencyBuckets();
    if (o.has("latencyBuckets")) {
      buckets = new ArrayList<>();
      Duration previous = Duration.ZERO;
      for (String text : o.strings("latencyBuckets")) {
        Duration bucket = ConfigReader.parseDuration(text.trim());
        if (bucket == null || bucket.compareTo(previous) <= 0) {
          reader.error(o.node("latencyBuckets"), o.child("latencyBuckets"), "'" + text
              + "' is not a duration above the previous bucket (expected: ascending durations"
              + " such as [5ms, 50ms, 500ms, 5s])");
          break;
        }
        buckets.add(bucket);
        previous = bucket;
      }
      if (buckets.isEmpty() || buckets.size() > 50) {
        reader.error(o.node("latencyBuckets"), o.child("latencyBuckets"), buckets.size()
            + " buckets (expected: 1 to 50)");
      }
    }
    int maxMethods = o.integer("maxMethods", defaults.maxMethods(), 1, 100_000);
    o.finish();
    return new GatewayConfig.Metrics(buckets, maxMethods);
  }

  GatewayConfig.AccessLog accessLog(ConfigReader.Obj o) {
    if (o == null) {
      return null;
    }
    String text = o.string("path", "stdout");
    Path path = null;
    if (!text.equals("stdout")) {
      path = context.path(text);
      Path dir = path.toAbsolutePath().getParent();
      if (Files.isDirectory(path) || dir == null || !Files.isDirectory(dir)
          || (Files.exists(path) ? !Files.isWritable(path) : !Files.isWritable(dir))) {
        reader.error(o.node("path"), o.child("path"), "'" + path + "' is not a file the"
            + " gateway can append to (expected: a writable file in an existing directory, or"
            + " stdout)");
      }
    }
    int buffer = o.integer("bufferEntries", 8192, 16, 1_000_000);
    o.finish();
    return new GatewayConfig.AccessLog(path, buffer);
  }

  GatewayConfig.Tracing tracing(ConfigReader.Obj t) {
    if (t == null) {
      return null;
    }
    String service = t.string("serviceName", "meshgate");
    String exporter = t.string("exporter", "otlp");
    if (!exporter.equals("otlp") && !exporter.equals("none")) {
      reader.error(t.node("exporter"), t.child("exporter"), "'" + exporter + "' is not an"
          + " exporter (expected: otlp, or none to make spans without sending them)");
    }
    String url = exporter.equals("none") ? t.string("endpoint", null)
        : t.requiredString("endpoint");
    java.net.URI endpoint = null;
    if (url != null && exporter.equals("otlp")) {
      try {
        endpoint = new URI(url);
        if (!"http".equals(endpoint.getScheme()) && !"https".equals(endpoint.getScheme())) {
          throw new URISyntaxException(url, "not http or https");
        }
      } catch (URISyntaxException e) {
        reader.error(t.node("endpoint"), t.child("endpoint"), "'" + url + "' is not an"
            + " OTLP/HTTP URL (expected e.g. http://otel-collector:4318/v1/traces)");
      }
    }
    double ratio = t.decimal("sampleRatio", 1.0, 0, 1);
    Duration interval = t.duration("exportInterval", Duration.ofSeconds(5),
        Duration.ofMillis(10), Duration.ofMinutes(10));
    int queue = t.integer("maxQueuedSpans", 2048, 16, 1_000_000);
    t.finish();
    return new GatewayConfig.Tracing(service, endpoint, ratio, interval, queue);
  }
}
