package io.meshgate.gateway.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Binds {@code auth.providers:} (JWT providers: key sources, issuer, audiences, where tokens
 * come from, claims to forward) and a route's {@code auth:}. Errors go to the reader.
 */
final class AuthBinder {
  private final ConfigReader reader;
  private final BindContext context;

  AuthBinder(ConfigReader reader, BindContext context) {
    this.reader = reader;
    this.context = context;
  }

  Map<String, GatewayConfig.JwtProvider> providers(ConfigReader.Obj o) {
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
        jwksFile = context.file(jwks, "file");
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
        caFile = context.file(jwks, "caFile");
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
      publicKey = context.file(p, "publicKeyFile");
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

  GatewayConfig.RouteAuth routeAuth(ConfigReader.Obj a,
      Map<String, GatewayConfig.JwtProvider> providers) {
    List<String> principals = a.strings("principals");
    // A route that lists principals and says nothing of tokens admits by certificate alone.
    boolean requiresToken = principals.isEmpty() || a.has("providers")
        || a.has("requireScopes") || a.has("requireClaims");
    List<String> names = a.strings("providers");
    if (!requiresToken) {
      boolean forward = a.bool("forwardAuthorization", true);
      a.finish();
      return new GatewayConfig.RouteAuth(List.of(), List.of(), Map.of(), forward, principals,
          false);
    }
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
    return new GatewayConfig.RouteAuth(names, scopes, claims, forward, principals, true);
  }
}
