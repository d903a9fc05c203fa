package io.meshgate.gateway.config;

import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver;
import io.grpc.NameResolverRegistry;
import io.meshgate.resolver.EtcdClients;
import io.meshgate.resolver.internal.EtcdTarget;
import io.meshgate.resolver.HostAndPort;
import io.meshgate.transcoder.JsonOptions;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Reads a YAML configuration into a validated {@link GatewayConfig}, or fails with every error in
 * it at once. Stateless; safe to call from any thread.
 */
public final class ConfigLoader {
  /** Default largest gRPC message: 4 MiB, as grpc-java's default. */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

  private static final Duration MAX_DURATION = Duration.ofDays(365);

  private ConfigLoader() {}

  /**
   * Loads a file. Relative paths inside it (certificates, keys) are relative to its directory.
   *
   * @throws ConfigException naming the file, the place in it and what was expected
   */
  public static GatewayConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw single(file.toString(), "file not found");
    } catch (IOException e) {
      throw single(file.toString(), "cannot be read: " + e.getMessage());
    }
    Path base = file.toAbsolutePath().getParent();
    return parse(file.toString(), text, base);
  }

  /**
   * Parses a document held in memory.
   *
   * @param source names the document in error messages
   * @param baseDir directory that relative file paths are resolved against
   * @throws ConfigException with every error found
   */
  public static GatewayConfig parse(String source, String yaml, Path baseDir)
      throws ConfigException {
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(50);
    options.setCodePointLimit(16 * 1024 * 1024);
    Node root;
    try (Reader reader = new StringReader(yaml)) {
      root = new Yaml(options).compose(reader);
    } catch (MarkedYAMLException e) {
      Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
      String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
      throw new ConfigException(List.of(new ConfigError(source,
          mark == null ? 0 : mark.getLine() + 1, mark == null ? 0 : mark.getColumn() + 1, "",
          "not valid YAML: " + problem)));
    } catch (YAMLException | IOException e) {
      throw single(source, "not valid YAML: " + e.getMessage());
    }
    ConfigReader reader = new ConfigReader(source);
    GatewayConfig config = new Binder(reader, baseDir).bind(reader.root(root), source);
    if (!reader.errors().isEmpty()) {
      throw new ConfigException(reader.errors());
    }
    return config;
  }

  private static ConfigException single(String source, String message) {
    return new ConfigException(List.of(new ConfigError(source, 0, 0, "", message)));
  }

  /** Binds the YAML tree to the config records, collecting errors in the reader. */
  private static final class Binder {
    private final ConfigReader reader;
    private final Path baseDir;

    Binder(ConfigReader reader, Path baseDir) {
      this.reader = reader;
      this.baseDir = baseDir;
    }

    GatewayConfig bind(ConfigReader.Obj root, String source) {
      GatewayConfig.Listener listener = listener(root.requiredObj("listener"));
      GatewayConfig.Admin admin = admin(root.obj("admin"));
      GatewayConfig.Limits limits = limits(root.obj("limits"));
      GatewayConfig.Shutdown shutdown = shutdown(root.obj("shutdown"));
      GatewayConfig.Discovery discovery = discovery(root.obj("discovery"));
      Map<String, GatewayConfig.Cluster> clusters = clusters(root, discovery);
      GatewayConfig.Transcoding transcoding = transcoding(root.obj("transcoding"), clusters);
      Map<String, GatewayConfig.JwtProvider> providers = auth(root.obj("auth"));
      List<GatewayConfig.Route> routes = routes(root, clusters, transcoding.rest(), providers);
      GatewayConfig.Metrics metrics = metrics(root.obj("metrics"));
      GatewayConfig.AccessLog accessLog = accessLog(root.obj("accessLog"));
      GatewayConfig.Tracing tracing = tracing(root.obj("tracing"));
      root.finish();
      if (listener.port() != 0 && listener.port() == admin.port()) {
        reader.error(root.node("admin"), "admin.port",
            admin.port() + " is also listener.port (expected: a different port)");
      }
      return new GatewayConfig(source, listener, admin, limits, shutdown, discovery,
          List.copyOf(clusters.values()), routes, transcoding, metrics, accessLog,
          List.copyOf(providers.values()), tracing);
    }

    private GatewayConfig.Tracing tracing(ConfigReader.Obj t) {
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

    private Map<String, GatewayConfig.JwtProvider> auth(ConfigReader.Obj o) {
      Map<String, GatewayConfig.JwtProvider> providers = new LinkedHashMap<>();
      if (o == null) {
        return providers;
      }
      List<Node> items = o.list("providers");
      for (int i = 0; i < items.size(); i++) {
        ConfigReader.Obj p = reader.item(items.get(i), o.child("providers") + "[" + i + "]");
        GatewayConfig.JwtProvider provider = provider(p);
        if (provider.name() != null && providers.putIfAbsent(provider.name(), provider) != null) {
          reader.error(p.node("name"), p.child("name"), "'" + provider.name()
              + "' is defined twice (provider names must be unique)");
        }
      }
      o.finish();
      return providers;
    }

    private GatewayConfig.JwtProvider provider(ConfigReader.Obj p) {
      String name = p.requiredString("name");
      String issuer = p.string("issuer", null);
      List<String> audiences = p.strings("audiences");
      Path jwksFile = null;
      java.net.URI jwksUrl = null;
      Path caFile = null;
      Duration refresh = Duration.ofMinutes(10);
      Duration minRefresh = Duration.ofSeconds(10);
      Duration fetchTimeout = Duration.ofSeconds(5);
      int sources = 0;
      ConfigReader.Obj jwks = p.obj("jwks");
      if (jwks != null) {
        sources++;
        if (jwks.has("file") == jwks.has("url")) {
          reader.error(jwks.node, jwks.path, "needs exactly one of file or url");
        }
        if (jwks.has("file")) {
          jwksFile = file(jwks, "file");
        }
        String url = jwks.string("url", null);
        if (url != null) {
          try {
            jwksUrl = new URI(url);
            String scheme = jwksUrl.getScheme();
            String host = jwksUrl.getHost();
            boolean loopback = host != null && (host.equals("localhost")
                || host.startsWith("127.") || host.equals("[::1]") || host.equals("::1"));
            if (!"https".equals(scheme) && !("http".equals(scheme) && loopback)) {
              reader.error(jwks.node("url"), jwks.child("url"), "'" + url + "' is not an https"
                  + " URL (keys fetched over plain http could be forged; plain http is allowed"
                  + " only on loopback)");
            }
          } catch (URISyntaxException e) {
            reader.error(jwks.node("url"), jwks.child("url"), "'" + url + "' is not a URL: "
                + e.getReason());
          }
        }
        if (jwks.has("caFile")) {
          caFile = file(jwks, "caFile");
        }
        refresh = jwks.duration("refreshInterval", refresh, Duration.ofSeconds(1),
            Duration.ofDays(1));
        minRefresh = jwks.duration("minRefreshInterval", minRefresh, Duration.ZERO,
            Duration.ofHours(1));
        fetchTimeout = jwks.duration("timeout", fetchTimeout, Duration.ofMillis(100),
            Duration.ofMinutes(1));
        jwks.finish();
      }
      Path publicKey = null;
      if (p.has("publicKeyFile")) {
        sources++;
        publicKey = file(p, "publicKeyFile");
      }
      byte[] secret = null;
      String text = p.string("secret", null);
      if (text != null) {
        sources++;
        secret = text.getBytes(StandardCharsets.UTF_8);
        if (secret.length < 32) {
          reader.error(p.node("secret"), p.child("secret"), secret.length + " bytes is too short"
              + " for an HMAC secret (expected: at least 32 bytes, as RFC 7518 requires for"
              + " HS256)");
        }
      }
      if (sources != 1) {
        reader.error(p.node, p.path, "needs exactly one key source: jwks, publicKeyFile or"
            + " secret (found " + sources + ")");
      }
      Duration skew = p.duration("clockSkew", Duration.ofSeconds(60), Duration.ZERO,
          Duration.ofMinutes(10));
      List<GatewayConfig.TokenSource> from = new ArrayList<>();
      List<Node> places = p.list("from");
      for (int i = 0; i < places.size(); i++) {
        ConfigReader.Obj f = reader.item(places.get(i), p.child("from") + "[" + i + "]");
        String header = f.string("header", null);
        String query = f.string("query", null);
        String cookie = f.string("cookie", null);
        String prefix = f.string("prefix", null);
        int kinds = (header != null ? 1 : 0) + (query != null ? 1 : 0) + (cookie != null ? 1 : 0);
        if (kinds != 1) {
          reader.error(f.node, f.path, "needs exactly one of header, query or cookie");
        } else if (prefix != null && header == null) {
          reader.error(f.node("prefix"), f.child("prefix"), "applies to headers only");
        }
        f.finish();
        if (header != null) {
          String lower = header.toLowerCase(java.util.Locale.ROOT);
          from.add(new GatewayConfig.TokenSource("header", lower,
              prefix != null ? prefix : lower.equals("authorization") ? "Bearer " : ""));
        } else if (query != null) {
          from.add(new GatewayConfig.TokenSource("query", query, ""));
        } else if (cookie != null) {
          from.add(new GatewayConfig.TokenSource("cookie", cookie, ""));
        }
      }
      if (from.isEmpty()) {
        from.add(GatewayConfig.TokenSource.BEARER);
      }
      Map<String, String> forward = new LinkedHashMap<>();
      p.stringMap("forwardClaims").forEach((claim, header) -> {
        String lower = header.toLowerCase(java.util.Locale.ROOT);
        if (!lower.matches("[a-z0-9_.-]+") || lower.endsWith("-bin") || lower.startsWith("grpc-")
            || lower.startsWith(":")) {
          reader.error(p.node("forwardClaims"), p.child("forwardClaims") + "." + claim, "'"
              + header + "' is not a header a claim can go to (expected: letters, digits, '-',"
              + " '_', '.'; not grpc-* or *-bin)");
        }
        forward.put(claim, lower);
      });
      int maxToken = (int) p.bytes("maxTokenBytes", 8 * 1024, 256, 1024 * 1024);
      p.finish();
      return new GatewayConfig.JwtProvider(name, issuer, audiences, jwksFile, jwksUrl, caFile,
          refresh, minRefresh, fetchTimeout, publicKey, secret, skew, from, forward, maxToken);
    }

    private List<GatewayConfig.RateLimit> rateLimits(ConfigReader.Obj route,
        GatewayConfig.RouteAuth auth) {
      List<GatewayConfig.RateLimit> limits = new ArrayList<>();
      List<Node> items = route.list("rateLimits");
      java.util.Set<String> names = new java.util.HashSet<>();
      for (int i = 0; i < items.size(); i++) {
        String path = route.child("rateLimits") + "[" + i + "]";
        ConfigReader.Obj l = reader.item(items.get(i), path);
        String name = l.string("name", "rateLimits[" + i + "]");
        if (!names.add(name)) {
          reader.error(l.node("name"), l.child("name"), "'" + name + "' is used twice in this"
              + " route");
        }
        String keyText = l.string("key", "clientIp");
        String key = keyText;
        String keyName = null;
        int colon = keyText.indexOf(':');
        if (colon > 0) {
          key = keyText.substring(0, colon);
          keyName = keyText.substring(colon + 1).trim();
        }
        boolean named = key.equals("header") || key.equals("claim");
        if (!(key.equals("clientIp") || key.equals("route") || named)
            || named == (keyName == null || keyName.isEmpty())) {
          reader.error(l.node("key"), l.child("key"), "'" + keyText + "' is not a rate-limit key"
              + " (expected: clientIp, route, header:<name> or claim:<name>)");
        }
        if (key.equals("header") && keyName != null) {
          keyName = keyName.toLowerCase(java.util.Locale.ROOT);
        }
        if (key.equals("claim") && auth == null) {
          reader.error(l.node("key"), l.child("key"), "a claim key needs the route to require a"
              + " token (auth:)");
        }
        int hops = l.integer("trustedHops", 0, 0, 10);
        if (hops > 0 && !key.equals("clientIp")) {
          reader.error(l.node("trustedHops"), l.child("trustedHops"), "applies to key clientIp"
              + " only");
        }
        double perSecond = 0;
        String rate = l.requiredString("rate");
        if (rate != null) {
          java.util.regex.Matcher m = java.util.regex.Pattern
              .compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*/\\s*(s|m|h|second|minute|hour)\\s*")
              .matcher(rate);
          if (m.matches() && Double.parseDouble(m.group(1)) > 0) {
            double count = Double.parseDouble(m.group(1));
            perSecond = switch (m.group(2).charAt(0)) {
              case 'm' -> count / 60;
              case 'h' -> count / 3600;
              default -> count;
            };
          } else {
            reader.error(l.node("rate"), l.child("rate"), "'" + rate + "' is not a rate"
                + " (expected: a positive number of calls per s, m or h, e.g. 100/s or 6000/m)");
          }
        }
        long burst = l.integer("burst", (int) Math.max(1, Math.ceil(perSecond)), 1,
            Integer.MAX_VALUE);
        int maxKeys = l.integer("maxKeys", 100_000, 1, 10_000_000);
        l.finish();
        if (perSecond > 0) {
          limits.add(new GatewayConfig.RateLimit(name, key, keyName, hops, perSecond, burst,
              maxKeys));
        }
      }
      return limits;
    }

    private GatewayConfig.RouteAuth routeAuth(ConfigReader.Obj a,
        Map<String, GatewayConfig.JwtProvider> providers) {
      List<String> names = a.strings("providers");
      if (names.isEmpty()) {
        if (providers.isEmpty()) {
          reader.error(a.node, a.path, "requires a token but auth.providers defines no JWT"
              + " provider");
        }
        names = List.copyOf(providers.keySet());
      }
      for (String name : names) {
        if (!providers.isEmpty() && !providers.containsKey(name)) {
          reader.error(a.node("providers"), a.child("providers"), "'" + name
              + "' is not a defined JWT provider (defined: "
              + String.join(", ", providers.keySet()) + ")");
        }
      }
      List<String> scopes = a.strings("requireScopes");
      Map<String, String> claims = a.stringMap("requireClaims");
      boolean forward = a.bool("forwardAuthorization", true);
      a.finish();
      return new GatewayConfig.RouteAuth(names, scopes, claims, forward);
    }

    private GatewayConfig.Metrics metrics(ConfigReader.Obj o) {
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

    private GatewayConfig.AccessLog accessLog(ConfigReader.Obj o) {
      if (o == null) {
        return null;
      }
      String text = o.string("path", "stdout");
      Path path = null;
      if (!text.equals("stdout")) {
        path = baseDir == null ? Path.of(text) : baseDir.resolve(text);
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

    private GatewayConfig.Transcoding transcoding(ConfigReader.Obj o,
        Map<String, GatewayConfig.Cluster> clusters) {
      GatewayConfig.Transcoding none = GatewayConfig.Transcoding.none();
      if (o == null) {
        return none;
      }
      List<Path> files = new ArrayList<>();
      List<String> names = o.strings("descriptors");
      for (int i = 0; i < names.size(); i++) {
        Path path = baseDir == null ? Path.of(names.get(i)) : baseDir.resolve(names.get(i));
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
            MAX_DURATION);
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
      o.finish();
      return new GatewayConfig.Transcoding(files, sources, watch, rest, forward, serveReflection,
          cors);
    }

    /** {@code json:} and {@code ignoreUnknownQueryParameters:} of {@code o}, over defaults. */
    private GatewayConfig.RestOptions restOptions(ConfigReader.Obj o,
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

    private GatewayConfig.Listener listener(ConfigReader.Obj o) {
      String host = o.string("host", "0.0.0.0");
      int port = o.integer("port", 8080, 0, 65535);
      int workers = o.integer("workerThreads", Runtime.getRuntime().availableProcessors(), 1, 256);
      GatewayConfig.Tls tls = null;
      ConfigReader.Obj t = o.obj("tls");
      if (t != null) {
        Path cert = file(t, "certFile");
        Path key = file(t, "keyFile");
        tls = new GatewayConfig.Tls(cert, key, t.bool("allowPlaintext", false));
        t.finish();
      }
      o.finish();
      return new GatewayConfig.Listener(host, port, tls, workers);
    }

    private Path file(ConfigReader.Obj o, String key) {
      String text = o.requiredString(key);
      if (text == null) {
        return null;
      }
      Path path = baseDir == null ? Path.of(text) : baseDir.resolve(text);
      if (!Files.isReadable(path)) {
        reader.error(o.node(key), o.child(key), "'" + path + "' is not a readable file");
      }
      return path;
    }

    private GatewayConfig.Admin admin(ConfigReader.Obj o) {
      if (o == null) {
        return new GatewayConfig.Admin("127.0.0.1", 9901);
      }
      String token = o.string("token", null);
      String tokenFile = o.string("tokenFile", null);
      if (token != null && tokenFile != null) {
        reader.error(o.node("tokenFile"), o.child("tokenFile"), "give token or tokenFile, not"
            + " both");
      }
      if (tokenFile != null) {
        Path path = baseDir == null ? Path.of(tokenFile) : baseDir.resolve(tokenFile);
        try {
          token = Files.readString(path, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
          reader.error(o.node("tokenFile"), o.child("tokenFile"), "'" + path
              + "' is not a readable file");
        }
      }
      if (token != null && token.length() < 16) {
        reader.error(o.node(tokenFile != null ? "tokenFile" : "token"),
            o.child(tokenFile != null ? "tokenFile" : "token"), "the admin token is "
                + token.length() + " characters (expected: at least 16, e.g. openssl rand"
                + " -hex 16)");
      }
      GatewayConfig.Admin admin = new GatewayConfig.Admin(o.string("host", "127.0.0.1"),
          o.integer("port", 9901, 0, 65535), token);
      o.finish();
      return admin;
    }

    private GatewayConfig.Limits limits(ConfigReader.Obj o) {
      ConfigReader.Obj l = o == null ? reader.new Obj(null, "limits") : o;
      int mib = 1024 * 1024;
      int maxMessage = (int) l.bytes("maxMessageBytes", DEFAULT_MAX_MESSAGE_BYTES, 1024,
          1024L * mib);
      int streams = l.integer("maxConcurrentStreams", 1000, 1, Integer.MAX_VALUE);
      int headerList = (int) l.bytes("maxHeaderListBytes", 16 * 1024, 1024, 1024 * 1024);
      int streamWindow = (int) l.bytes("streamWindowBytes", mib, 65535, Integer.MAX_VALUE);
      int connectionWindow =
          (int) l.bytes("connectionWindowBytes", 2 * mib, 65535, Integer.MAX_VALUE);
      if (connectionWindow < streamWindow) {
        reader.error(l.node("connectionWindowBytes"), l.child("connectionWindowBytes"),
            connectionWindow + " is smaller than streamWindowBytes " + streamWindow
                + " (expected: at least one stream's window)");
      }
      int body = (int) l.bytes("maxRequestBodyBytes", maxMessage, 1024, 1024L * mib);
      GatewayConfig.RapidReset rapidReset;
      ConfigReader.Obj r = l.obj("rapidReset");
      if (r == null) {
        rapidReset = new GatewayConfig.RapidReset(500, 0.5, Duration.ofSeconds(1));
      } else {
        rapidReset = new GatewayConfig.RapidReset(
            r.integer("minStreams", 500, 1, Integer.MAX_VALUE),
            r.decimal("maxResetRatio", 0.5, 0.01, 1.0),
            r.duration("minStreamLifetime", Duration.ofSeconds(1), Duration.ZERO,
                Duration.ofMinutes(10)));
        r.finish();
      }
      l.finish();
      return new GatewayConfig.Limits(maxMessage, streams, headerList, streamWindow,
          connectionWindow, body, rapidReset);
    }

    private GatewayConfig.Shutdown shutdown(ConfigReader.Obj o) {
      if (o == null) {
        return new GatewayConfig.Shutdown(Duration.ZERO, Duration.ofSeconds(30));
      }
      GatewayConfig.Shutdown shutdown = new GatewayConfig.Shutdown(
          o.duration("readinessGrace", Duration.ZERO, Duration.ZERO, Duration.ofMinutes(10)),
          o.duration("drainTimeout", Duration.ofSeconds(30), Duration.ZERO,
              Duration.ofHours(1)));
      o.finish();
      return shutdown;
    }

    private GatewayConfig.Discovery discovery(ConfigReader.Obj o) {
      if (o == null) {
        return new GatewayConfig.Discovery(List.of());
      }
      List<String> endpoints = List.of();
      ConfigReader.Obj etcd = o.obj("etcd");
      if (etcd != null) {
        List<String> listed = etcd.strings("endpoints");
        try {
          endpoints = EtcdClients.parseEndpoints(String.join(",", listed));
        } catch (IllegalArgumentException e) {
          reader.error(etcd.node("endpoints"), etcd.child("endpoints"), e.getMessage());
        }
        etcd.finish();
      }
      o.finish();
      return new GatewayConfig.Discovery(endpoints);
    }

    private Map<String, GatewayConfig.Cluster> clusters(ConfigReader.Obj root,
        GatewayConfig.Discovery discovery) {
      Map<String, GatewayConfig.Cluster> clusters = new LinkedHashMap<>();
      List<Node> items = root.list("clusters");
      for (int i = 0; i < items.size(); i++) {
        String path = "clusters[" + i + "]";
        ConfigReader.Obj c = reader.item(items.get(i), path);
        String name = c.requiredString("name");
        String target = target(c, discovery);
        String lb = c.string("lbPolicy", "round_robin");
        Map<String, ?> lbConfig = lbConfig(c, lb);
        String healthCheck = null;
        ConfigReader.Obj hc = c.obj("healthCheck");
        if (hc != null) {
          healthCheck = hc.string("serviceName", "");
          hc.finish();
        }
        Duration connectTimeout = c.duration("connectTimeout", Duration.ofSeconds(5),
            Duration.ofMillis(1), Duration.ofMinutes(5));
        ConfigReader.Obj cb = c.obj("circuitBreaker");
        GatewayConfig.CircuitBreaker breaker = cb == null ? null : circuitBreaker(cb);
        c.finish();
        if (name != null) {
          if (clusters.containsKey(name)) {
            reader.error(c.node("name"), c.child("name"),
                "'" + name + "' is already the name of an earlier cluster");
          } else {
            clusters.put(name, new GatewayConfig.Cluster(name, target, lb, lbConfig, healthCheck,
                connectTimeout, breaker));
          }
        }
      }
      return clusters;
    }

    private List<GatewayConfig.WeightedCluster> split(ConfigReader.Obj route,
        Map<String, GatewayConfig.Cluster> clusters) {
      List<GatewayConfig.WeightedCluster> split = new ArrayList<>();
      List<Node> items = route.list("split");
      for (int i = 0; i < items.size(); i++) {
        ConfigReader.Obj w = reader.item(items.get(i), route.child("split") + "[" + i + "]");
        String cluster = w.requiredString("cluster");
        if (cluster != null && !clusters.containsKey(cluster)) {
          reader.error(w.node("cluster"), w.child("cluster"), "'" + cluster
              + "' is not a defined cluster (defined: " + String.join(", ", clusters.keySet())
              + ")");
        }
        int weight = w.integer("weight", 1, 0, 1_000_000);
        w.finish();
        if (cluster != null) {
          split.add(new GatewayConfig.WeightedCluster(cluster, weight));
        }
      }
      if (!items.isEmpty() && split.stream().mapToInt(GatewayConfig.WeightedCluster::weight)
          .sum() == 0) {
        reader.error(route.node("split"), route.child("split"), "weights add up to 0 (expected:"
            + " at least one cluster with a positive weight)");
      }
      return split;
    }

    private List<GatewayConfig.CanaryRule> canary(ConfigReader.Obj route,
        Map<String, GatewayConfig.Cluster> clusters, GatewayConfig.RouteAuth auth) {
      List<GatewayConfig.CanaryRule> rules = new ArrayList<>();
      List<Node> items = route.list("canary");
      for (int i = 0; i < items.size(); i++) {
        ConfigReader.Obj c = reader.item(items.get(i), route.child("canary") + "[" + i + "]");
        String header = c.string("header", null);
        String claim = c.string("claim", null);
        String value = c.requiredString("value");
        String cluster = c.requiredString("cluster");
        if ((header == null) == (claim == null)) {
          reader.error(c.node, c.path, "needs exactly one of header or claim");
        } else if (claim != null && auth == null) {
          reader.error(c.node("claim"), c.child("claim"), "a claim rule needs the route to"
              + " require a token (auth:)");
        }
        if (cluster != null && !clusters.containsKey(cluster)) {
          reader.error(c.node("cluster"), c.child("cluster"), "'" + cluster
              + "' is not a defined cluster (defined: " + String.join(", ", clusters.keySet())
              + ")");
        }
        c.finish();
        rules.add(new GatewayConfig.CanaryRule(
            header == null ? null : header.toLowerCase(java.util.Locale.ROOT), claim, value,
            cluster));
      }
      return rules;
    }

    private GatewayConfig.Retry retry(ConfigReader.Obj r) {
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

    private GatewayConfig.CircuitBreaker circuitBreaker(ConfigReader.Obj b) {
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

    /** The policy's config, checked by the policy's own parser. */
    private Map<String, ?> lbConfig(ConfigReader.Obj c, String policy) {
      LoadBalancerProvider provider = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
      if (provider == null) {
        reader.error(c.node("lbPolicy"), c.child("lbPolicy"), "'" + policy
            + "' is not a known load-balancing policy (expected one of:"
            + " meshgate_weighted_round_robin, meshgate_least_request, meshgate_ring_hash,"
            + " meshgate_zone_aware, round_robin, pick_first)");
        c.node("lbConfig");
        return Map.of();
      }
      Node node = c.node("lbConfig");
      Object json = node == null ? Map.of() : ConfigReader.toJson(node);
      if (!(json instanceof Map<?, ?>)) {
        reader.error(node, c.child("lbConfig"), "expected a mapping of the policy's settings");
        return Map.of();
      }
      @SuppressWarnings("unchecked")
      Map<String, ?> config = (Map<String, ?>) json;
      NameResolver.ConfigOrError parsed = provider.parseLoadBalancingPolicyConfig(config);
      if (parsed.getError() != null) {
        reader.error(node != null ? node : c.node("lbPolicy"), c.child("lbConfig"),
            parsed.getError().getDescription());
      }
      return config;
    }

    /** Either {@code target: <uri>} or {@code endpoints: [host:port, ...]}. */
    private String target(ConfigReader.Obj c, GatewayConfig.Discovery discovery) {
      boolean hasTarget = c.has("target");
      boolean hasEndpoints = c.has("endpoints");
      if (hasTarget == hasEndpoints) {
        reader.error(c.node, c.path, "needs exactly one of 'target' (a URI such as"
            + " static:///10.0.0.1:50051 or dns:///orders:50051) or 'endpoints' (host:port list)");
        return null;
      }
      if (hasEndpoints) {
        List<String> endpoints = c.strings("endpoints");
        StringBuilder target = new StringBuilder("static:///");
        for (int i = 0; i < endpoints.size(); i++) {
          try {
            String endpoint = HostAndPort.parse(endpoints.get(i)).toString();
            target.append(i == 0 ? "" : ",")
                .append(endpoint.replace("[", "%5B").replace("]", "%5D"));
          } catch (IllegalArgumentException e) {
            reader.error(c.node("endpoints"), c.child("endpoints") + "[" + i + "]",
                e.getMessage());
          }
        }
        if (endpoints.isEmpty()) {
          reader.error(c.node("endpoints"), c.child("endpoints"), "lists no endpoint");
        }
        return target.toString();
      }
      String target = c.requiredString("target");
      if (target == null) {
        return null;
      }
      try {
        URI uri = new URI(target);
        String scheme = uri.getScheme();
        if (scheme == null) {
          reader.error(c.node("target"), c.child("target"), "'" + target
              + "' has no scheme (expected e.g. static:///10.0.0.1:50051 or dns:///host:50051)");
        } else if (NameResolverRegistry.getDefaultRegistry().getProviderForScheme(scheme)
            == null) {
          reader.error(c.node("target"), c.child("target"), "scheme '" + scheme
              + "' has no name resolver (expected e.g. static, dns)");
        } else if (scheme.equals("etcd")) {
          EtcdTarget.check(uri);
          if ((uri.getRawAuthority() == null || uri.getRawAuthority().isEmpty())
              && !discovery.etcdEndpoints().isEmpty()) {
            // etcd:///service uses discovery.etcd.endpoints.
            StringBuilder authority = new StringBuilder();
            for (String endpoint : discovery.etcdEndpoints()) {
              authority.append(authority.length() == 0 ? "" : ",")
                  .append(endpoint.replaceFirst("^https?://", ""));
            }
            return "etcd://" + authority + uri.getRawPath()
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
          }
        } else if (scheme.equals("static")) {
          String path = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
          try {
            HostAndPort.parseList(path);
          } catch (IllegalArgumentException e) {
            reader.error(c.node("target"), c.child("target"), e.getMessage());
          }
        }
      } catch (URISyntaxException e) {
        reader.error(c.node("target"), c.child("target"),
            "'" + target + "' is not a URI: " + e.getReason());
      } catch (IllegalArgumentException e) {
        reader.error(c.node("target"), c.child("target"), e.getMessage());
      }
      return target;
    }

    private List<GatewayConfig.Route> routes(ConfigReader.Obj root,
        Map<String, GatewayConfig.Cluster> clusters, GatewayConfig.RestOptions rest,
        Map<String, GatewayConfig.JwtProvider> providers) {
      List<GatewayConfig.Route> routes = new ArrayList<>();
      List<Node> items = root.list("routes");
      for (int i = 0; i < items.size(); i++) {
        String path = "routes[" + i + "]";
        ConfigReader.Obj r = reader.item(items.get(i), path);
        String name = r.string("name", path);
        GatewayConfig.Match match = match(r.requiredObj("match"));
        List<GatewayConfig.WeightedCluster> split = split(r, clusters);
        String cluster = split.isEmpty() || r.has("cluster") ? r.requiredString("cluster")
            : split.get(0).cluster();
        if (!split.isEmpty() && r.has("cluster")) {
          reader.error(r.node("split"), r.child("split"), "a route has a cluster or a split, not"
              + " both");
        }
        if (cluster != null && !clusters.containsKey(cluster)) {
          reader.error(r.node("cluster"), r.child("cluster"), "'" + cluster
              + "' is not a defined cluster (defined: "
              + (clusters.isEmpty() ? "none" : String.join(", ", clusters.keySet())) + ")");
        }
        Duration timeout = r.duration("timeout", null, Duration.ofMillis(1), MAX_DURATION);
        Duration maxTimeout = r.duration("maxTimeout", null, Duration.ofMillis(1), MAX_DURATION);
        if (timeout != null && maxTimeout != null && timeout.compareTo(maxTimeout) > 0) {
          reader.error(r.node("timeout"), r.child("timeout"), ConfigReader.format(timeout)
              + " is longer than maxTimeout " + ConfigReader.format(maxTimeout));
        }
        ConfigReader.Obj a = r.obj("auth");
        GatewayConfig.RouteAuth auth = a == null ? null : routeAuth(a, providers);
        List<GatewayConfig.RateLimit> limits = rateLimits(r, auth);
        List<GatewayConfig.CanaryRule> canary = canary(r, clusters, auth);
        ConfigReader.Obj rt = r.obj("retry");
        GatewayConfig.Retry retry = rt == null ? null : retry(rt);
        ConfigReader.Obj t = r.obj("transcoding");
        GatewayConfig.RestOptions routeRest = null;
        if (t != null) {
          routeRest = restOptions(t, rest);
          t.finish();
        }
        r.finish();
        GatewayConfig.Route route =
            new GatewayConfig.Route(name, match, cluster, timeout, maxTimeout, routeRest, auth,
                limits, retry, split, canary);
        for (int j = 0; j < routes.size(); j++) {
          GatewayConfig.Route earlier = routes.get(j);
          if (match != null && earlier.match() != null && shadows(earlier.match(), match)) {
            reader.error(r.node("match"), r.child("match"), "can never match: "
                + earlier.name() + " (routes[" + j + "]) comes first and takes every call this"
                + " one would");
            break;
          }
        }
        routes.add(route);
      }
      return routes;
    }

    private GatewayConfig.Match match(ConfigReader.Obj m) {
      String service = m.string("service", null);
      String prefix = m.string("servicePrefix", null);
      String method = m.string("method", null);
      List<String> authorities = m.strings("authority");
      if ((service == null) == (prefix == null) && m.node != null) {
        reader.error(m.node, m.path, "needs exactly one of 'service' (a full service name such as"
            + " acme.orders.v1.OrderService) or 'servicePrefix' (\"\" matches every service)");
      }
      if (service != null && (service.isEmpty() || service.contains("/"))) {
        reader.error(m.node("service"), m.child("service"), "'" + service
            + "' is not a service name (expected: package.Service, without slashes)");
      }
      if (method != null && (method.isEmpty() || method.contains("/"))) {
        reader.error(m.node("method"), m.child("method"),
            "'" + method + "' is not a method name (expected: the bare name, e.g. GetUser)");
      }
      m.finish();
      return new GatewayConfig.Match(service, prefix, method,
          authorities.stream().map(a -> a.toLowerCase(java.util.Locale.ROOT))
              .collect(Collectors.toList()));
    }

    /** Whether every call {@code later} matches is taken by {@code earlier} first. */
    private static boolean shadows(GatewayConfig.Match earlier, GatewayConfig.Match later) {
      boolean services;
      if (earlier.service() != null) {
        services = earlier.service().equals(later.service());
      } else {
        String laterScope = later.service() != null ? later.service() : later.servicePrefix();
        services = laterScope != null && earlier.servicePrefix() != null
            && laterScope.startsWith(earlier.servicePrefix());
      }
      boolean methods = earlier.method() == null || earlier.method().equals(later.method());
      boolean authorities = earlier.authorities().isEmpty()
          || (!later.authorities().isEmpty()
              && earlier.authorities().containsAll(later.authorities()));
      return services && methods && authorities;
    }
  }
}
