package io.meshgate.gateway.config;

import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Binds a route's {@code rateLimits:}: keys, rates, bursts and key bounds. Errors go to the
 * reader.
 */
final class RateLimitBinder {
  private final ConfigReader reader;
  private final BindContext context;

  private ClusterBinder tlsBinder;

  RateLimitBinder(ConfigReader reader, BindContext context, ClusterBinder tlsBinder) {
    this(reader, context);
    this.tlsBinder = tlsBinder;
  }

  RateLimitBinder(ConfigReader reader, BindContext context) {
    this.reader = reader;
    this.context = context;
  }

  /** {@code ratelimit:}: the shared store of global limits, or null without one. */
  GatewayConfig.RateLimitStore store(ConfigReader.Obj o) {
    if (o == null) {
      return null;
    }
    ConfigReader.Obj r = o.obj("redis");
    int fleetSize = o.integer("fleetSize", 1, 1, 10_000);
    o.finish();
    if (r == null) {
      return null;
    }
    List<String> addresses = r.strings("addresses");
    String sentinelMaster = null;
    String sentinelPassword = null;
    ConfigReader.Obj sentinel = r.obj("sentinel");
    if (sentinel != null) {
      sentinelMaster = sentinel.requiredString("masterName");
      sentinelPassword = sentinel.string("password", null);
      sentinel.finish();
    }
    if (sentinel == null && addresses.size() != 1) {
      reader.error(r.node("addresses"), r.child("addresses"), "give the one standalone Redis"
          + " server as [host:port], or the Sentinels with sentinel: {masterName: ...}"
          + " (Redis Cluster is not supported)");
    } else if (addresses.isEmpty()) {
      reader.error(r.node, r.child("addresses"), "give the Sentinels' host:port addresses");
    }
    for (String address : addresses) {
      int colon = address.lastIndexOf(':');
      if (colon <= 0 || !address.substring(colon + 1).matches("[0-9]{1,5}")) {
        reader.error(r.node("addresses"), r.child("addresses"), "'" + address
            + "' is not host:port");
      }
    }
    String password = r.string("password", null);
    String passwordFile = r.string("passwordFile", null);
    if (password != null && passwordFile != null) {
      reader.error(r.node("passwordFile"), r.child("passwordFile"), "give password or"
          + " passwordFile, not both");
    }
    if (passwordFile != null) {
      java.nio.file.Path path = context.path(passwordFile);
      try {
        password = java.nio.file.Files.readString(path, java.nio.charset.StandardCharsets.UTF_8)
            .strip();
      } catch (java.io.IOException e) {
        reader.error(r.node("passwordFile"), r.child("passwordFile"), "'" + path
            + "' is not a readable file");
      }
    }
    int database = r.integer("database", 0, 0, 15);
    String prefix = r.string("keyPrefix", "meshgate:rl:");
    java.time.Duration timeout = r.duration("timeout", java.time.Duration.ofMillis(20),
        java.time.Duration.ofMillis(1), java.time.Duration.ofSeconds(10));
    ConfigReader.Obj t = r.obj("tls");
    GatewayConfig.UpstreamTls tls = t == null || tlsBinder == null ? null : tlsBinder.tls(t);
    r.finish();
    return new GatewayConfig.RateLimitStore(addresses, password, database, prefix, fleetSize,
        sentinelMaster, sentinelPassword, tls, timeout);
  }

  List<GatewayConfig.RateLimit> rateLimits(ConfigReader.Obj route,
      GatewayConfig.RouteAuth auth, GatewayConfig.RateLimitStore store) {
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
      if (!(key.equals("clientIp") || key.equals("route") || key.equals("clientCert") || named)
          || named == (keyName == null || keyName.isEmpty())) {
        reader.error(l.node("key"), l.child("key"), "'" + keyText + "' is not a rate-limit key"
            + " (expected: clientIp, route, clientCert, header:<name> or claim:<name>)");
      }
      if (key.equals("header") && keyName != null) {
        keyName = keyName.toLowerCase(java.util.Locale.ROOT);
      }
      if (key.equals("claim") && (auth == null || !auth.requiresToken())) {
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
      String scope = l.string("scope", "local");
      GatewayConfig.GlobalLimit global = null;
      if (scope.equals("global")) {
        String mode = l.string("onStoreFailure", "local");
        GatewayConfig.OnStoreFailure onFailure = switch (mode) {
          case "allow" -> GatewayConfig.OnStoreFailure.ALLOW;
          case "deny" -> GatewayConfig.OnStoreFailure.DENY;
          case "local" -> GatewayConfig.OnStoreFailure.LOCAL;
          default -> {
            reader.error(l.node("onStoreFailure"), l.child("onStoreFailure"), "'" + mode
                + "' is not one of allow, deny, local");
            yield GatewayConfig.OnStoreFailure.LOCAL;
          }
        };
        global = new GatewayConfig.GlobalLimit(onFailure,
            l.duration("timeout", store == null ? java.time.Duration.ofMillis(20)
                : store.timeout(), java.time.Duration.ofMillis(1),
                java.time.Duration.ofSeconds(10)),
            l.integer("batch", 1, 1, 1000));
        if (store == null) {
          reader.error(l.node("scope"), l.child("scope"), "scope global counts in Redis:"
              + " configure ratelimit.redis (addresses: [host:port])");
        }
      } else if (!scope.equals("local")) {
        reader.error(l.node("scope"), l.child("scope"), "'" + scope + "' is not one of local,"
            + " global");
      }
      l.finish();
      if (perSecond > 0) {
        limits.add(new GatewayConfig.RateLimit(name, key, keyName, hops, perSecond, burst,
            maxKeys, global));
      }
    }
    return limits;
  }
}
