package io.meshgate.gateway.config;

import io.meshgate.transcoder.JsonOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Binds {@code transcoding:}: descriptor sets and reflection sources, JSON options (also a
 * route's {@code transcoding:}), forwarded headers and CORS. Errors go to the reader.
 */
final class TranscodingBinder {
  private final ConfigReader reader;
  private final BindContext context;

  TranscodingBinder(ConfigReader reader, BindContext context) {
    this.reader = reader;
    this.context = context;
  }

  GatewayConfig.Transcoding transcoding(ConfigReader.Obj o,
      Map<String, GatewayConfig.Cluster> clusters) {
    GatewayConfig.Transcoding none = GatewayConfig.Transcoding.none();
    if (o == null) {
      return none;
    }
    List<Path> files = new ArrayList<>();
    List<String> names = o.strings("descriptors");
    for (int i = 0; i < names.size(); i++) {
      Path path = context.path(names.get(i));
      if (!Files.isReadable(path)) {
        reader.error(o.node("descriptors"), o.child("descriptors") + "[" + i + "]", "'" + path
            + "' is not a readable file (expected a descriptor set made by protoc"
            + " --include_imports --descriptor_set_out)");
      }
      files.add(path);
    }
    List<GatewayConfig.ReflectionSource> sources = new ArrayList<>();
    List<Node> items = o.list("reflection");
    for (int i = 0; i < items.size(); i++) {
      ConfigReader.Obj r = reader.item(items.get(i), o.child("reflection") + "[" + i + "]");
      String cluster = r.requiredString("cluster");
      if (cluster != null && !clusters.containsKey(cluster)) {
        reader.error(r.node("cluster"), r.child("cluster"), "'" + cluster
            + "' is not a defined cluster (defined: "
            + (clusters.isEmpty() ? "none" : String.join(", ", clusters.keySet())) + ")");
      }
      List<String> services = r.strings("services");
      Duration refresh = r.duration("refreshInterval", Duration.ofMinutes(5), Duration.ZERO,
          BindContext.MAX_DURATION);
      if (!refresh.isZero() && refresh.compareTo(Duration.ofSeconds(1)) < 0) {
        reader.error(r.node("refreshInterval"), r.child("refreshInterval"),
            ConfigReader.format(refresh) + " is too short (expected 0 for never, or at least"
                + " 1s)");
      }
      r.finish();
      sources.add(new GatewayConfig.ReflectionSource(cluster, services, refresh));
    }
    Duration watch = o.duration("watchInterval", Duration.ofSeconds(2), Duration.ZERO,
        Duration.ofHours(1));
    GatewayConfig.RestOptions rest = restOptions(o, none.rest());
    List<String> forward = new ArrayList<>();
    for (String header : o.strings("forwardHeaders")) {
      String lower = header.toLowerCase(java.util.Locale.ROOT);
      if (!lower.matches("[a-z0-9_.-]+")) {
        reader.error(o.node("forwardHeaders"), o.child("forwardHeaders"), "'" + header
            + "' is not a header name that can be gRPC metadata (expected: letters, digits,"
            + " '-', '_', '.')");
      }
      forward.add(lower);
    }
    boolean serveReflection = o.bool("serveReflection", true);
    GatewayConfig.Cors cors = cors(o.obj("cors"));
    boolean openApi = o.bool("openApi", false);
    o.finish();
    return new GatewayConfig.Transcoding(files, sources, watch, rest, forward, serveReflection,
        cors, openApi);
  }

  /** {@code json:} and {@code ignoreUnknownQueryParameters:} of {@code o}, over defaults. */
  GatewayConfig.RestOptions restOptions(ConfigReader.Obj o,
      GatewayConfig.RestOptions defaults) {
    JsonOptions json = defaults.json();
    ConfigReader.Obj j = o.obj("json");
    if (j != null) {
      json = new JsonOptions(j.bool("emitUnpopulated", json.emitUnpopulated()),
          j.bool("enumsAsInts", json.enumsAsInts()),
          j.bool("originalFieldNames", json.originalFieldNames()));
      j.finish();
    }
    return new GatewayConfig.RestOptions(json,
        o.bool("ignoreUnknownQueryParameters", defaults.ignoreUnknownQueryParameters()));
  }

  private GatewayConfig.Cors cors(ConfigReader.Obj c) {
    if (c == null) {
      return null;
    }
    List<String> origins = new ArrayList<>();
    for (String origin : c.strings("allowOrigins")) {
      String lower = origin.toLowerCase(java.util.Locale.ROOT);
      if (!lower.equals("*") && !lower.matches("https?://(\\*\\.)?[a-z0-9.\\-\\[\\]:]+")) {
        reader.error(c.node("allowOrigins"), c.child("allowOrigins"), "'" + origin
            + "' is not an origin (expected scheme://host[:port], scheme://*.domain, or *)");
      }
      origins.add(lower);
    }
    if (origins.isEmpty()) {
      reader.error(c.node, c.path, "lists no origin in allowOrigins (expected e.g."
          + " [\"https://app.example.com\"])");
    }
    List<String> methods = c.strings("allowMethods").stream()
        .map(m -> m.toUpperCase(java.util.Locale.ROOT)).collect(Collectors.toList());
    List<String> headers = c.strings("allowHeaders").stream()
        .map(h -> h.toLowerCase(java.util.Locale.ROOT)).collect(Collectors.toList());
    List<String> expose = c.strings("exposeHeaders").stream()
        .map(h -> h.toLowerCase(java.util.Locale.ROOT)).collect(Collectors.toList());
    Duration maxAge = c.duration("maxAge", Duration.ofMinutes(10), Duration.ZERO,
        Duration.ofDays(1));
    boolean credentials = c.bool("allowCredentials", false);
    if (credentials && origins.contains("*")) {
      reader.error(c.node("allowCredentials"), c.child("allowCredentials"), "cannot be true"
          + " with allowOrigins '*' (browsers refuse credentials for a wildcard origin): list"
          + " the origins");
    }
    c.finish();
    return new GatewayConfig.Cors(origins, methods, headers, expose, maxAge, credentials);
  }
}
