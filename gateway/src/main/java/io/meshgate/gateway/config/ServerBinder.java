package io.meshgate.gateway.config;

import io.meshgate.resolver.EtcdClients;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Binds the sections of the process itself: {@code listener:} (with TLS), {@code admin:},
 * {@code limits:}, {@code shutdown:} and {@code discovery:}. Errors go to the reader.
 */
final class ServerBinder {
  private final ConfigReader reader;
  private final BindContext context;

  ServerBinder(ConfigReader reader, BindContext context) {
    this.reader = reader;
    this.context = context;
  }

  GatewayConfig.Listener listener(ConfigReader.Obj o) {
    String host = o.string("host", "0.0.0.0");
    int port = o.integer("port", 8080, 0, 65535);
    int workers = o.integer("workerThreads", Runtime.getRuntime().availableProcessors(), 1, 256);
    GatewayConfig.Tls tls = null;
    ConfigReader.Obj t = o.obj("tls");
    if (t != null) {
      tls = tls(t, true);
    }
    o.finish();
    return new GatewayConfig.Listener(host, port, tls, workers);
  }

  /** A lower-case, underscored name of one of {@code type}'s constants. */
  private <E extends Enum<E>> E enumValue(ConfigReader.Obj o, String key, Class<E> type,
      E defaultValue) {
    String text = o.string(key, null);
    if (text == null) {
      return defaultValue;
    }
    for (E value : type.getEnumConstants()) {
      if (value.name().equalsIgnoreCase(text)) {
        return value;
      }
    }
    List<String> names = new java.util.ArrayList<>();
    for (E value : type.getEnumConstants()) {
      names.add(value.name().toLowerCase(java.util.Locale.ROOT));
    }
    reader.error(o.node(key), o.child(key), "'" + text + "' is not one of "
        + String.join(", ", names));
    return defaultValue;
  }

  /**
   * A {@code tls:} section of a port: certificate, key, client certificates; for the main port
   * also cleartext on the same port and what goes upstream in x-forwarded-client-cert.
   */
  private GatewayConfig.Tls tls(ConfigReader.Obj t, boolean mainPort) {
    Path cert = context.file(t, "certFile");
    Path key = context.file(t, "keyFile");
    Path clientCa = t.has("clientCaFile") ? context.file(t, "clientCaFile") : null;
    GatewayConfig.ClientAuth clientAuth = enumValue(t, "clientAuth",
        GatewayConfig.ClientAuth.class, mainPort || clientCa == null
            ? GatewayConfig.ClientAuth.NONE : GatewayConfig.ClientAuth.OPTIONAL);
    if (clientAuth != GatewayConfig.ClientAuth.NONE && clientCa == null) {
      reader.error(t.node("clientAuth"), t.child("clientAuth"), "clientAuth "
          + clientAuth.name().toLowerCase(java.util.Locale.ROOT) + " needs clientCaFile (the"
          + " CAs client certificates must chain to)");
    }
    boolean allowPlaintext = false;
    GatewayConfig.ForwardClientCert forward = GatewayConfig.ForwardClientCert.SANITIZE;
    if (mainPort) {
      allowPlaintext = t.bool("allowPlaintext", false);
      forward = enumValue(t, "forwardClientCert", GatewayConfig.ForwardClientCert.class,
          GatewayConfig.ForwardClientCert.SANITIZE);
    }
    GatewayConfig.TlsProvider provider = context.tlsProvider(t);
    t.finish();
    return new GatewayConfig.Tls(cert, key, allowPlaintext, clientAuth, clientCa, forward,
        provider);
  }

  GatewayConfig.Admin admin(ConfigReader.Obj o) {
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
      Path path = context.path(tokenFile);
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
    ConfigReader.Obj t = o.obj("tls");
    GatewayConfig.Admin admin = new GatewayConfig.Admin(o.string("host", "127.0.0.1"),
        o.integer("port", 9901, 0, 65535), token, t == null ? null : tls(t, false));
    o.finish();
    return admin;
  }

  GatewayConfig.Limits limits(ConfigReader.Obj o) {
    ConfigReader.Obj l = o == null ? reader.new Obj(null, "limits") : o;
    int mib = 1024 * 1024;
    int maxMessage = (int) l.bytes("maxMessageBytes", ConfigLoader.DEFAULT_MAX_MESSAGE_BYTES, 1024,
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
    GatewayConfig.Connections connections = new GatewayConfig.Connections(
        l.duration("requestHeadersTimeout", Duration.ofSeconds(10), Duration.ofMillis(10),
            Duration.ofMinutes(10)),
        l.duration("idleTimeout", Duration.ofHours(1), Duration.ZERO, Duration.ofDays(7)),
        l.duration("maxConnectionAge", Duration.ZERO, Duration.ZERO, Duration.ofDays(365)),
        l.integer("maxConnections", 10_000, 1, 10_000_000),
        l.integer("maxConnectionsPerClient", 1_000, 1, 10_000_000), abuseBan(l.obj("abuseBan")),
        l.duration("settingsAckTimeout", Duration.ofSeconds(10), Duration.ofMillis(10),
            Duration.ofMinutes(10)),
        l.duration("webSocketPingInterval", Duration.ofSeconds(30), Duration.ofMillis(100),
            Duration.ofHours(1)));
    GatewayConfig.Overload overload = overload(l.obj("overload"));
    long streamedMessage = l.bytes("maxStreamedMessageBytes", 0, 0, Long.MAX_VALUE);
    l.finish();
    return new GatewayConfig.Limits(maxMessage, streams, headerList, streamWindow,
        connectionWindow, body, rapidReset, connections, overload, streamedMessage);
  }

  private GatewayConfig.Overload overload(ConfigReader.Obj o) {
    ConfigReader.Obj v = o == null ? reader.new Obj(null, "limits.overload") : o;
    GatewayConfig.Overload overload = new GatewayConfig.Overload(
        watermarks(v.obj("heap"), "limits.overload.heap", 0.92, 0.97),
        watermarks(v.obj("direct"), "limits.overload.direct", 0.85, 0.95),
        v.duration("checkInterval", Duration.ofMillis(250), Duration.ofMillis(10),
            Duration.ofMinutes(1)),
        budget(v.obj("budget")));
    v.finish();
    return overload;
  }

  private GatewayConfig.Budget budget(ConfigReader.Obj o) {
    ConfigReader.Obj b = o == null ? reader.new Obj(null, "limits.overload.budget") : o;
    String text = b.string("bytes", null);
    boolean off = text != null && (text.trim().equals("off") || text.trim().equals("0"));
    GatewayConfig.Threshold bytes = off ? new GatewayConfig.Threshold(0, 0)
        : text == null ? new GatewayConfig.Threshold(0, 256L << 20) : b.threshold("bytes", 0);
    Duration shedAfter =
        b.duration("shedAfter", Duration.ofSeconds(10), Duration.ZERO, Duration.ofHours(1));
    b.finish();
    return new GatewayConfig.Budget(bytes, shedAfter);
  }

  private GatewayConfig.Watermarks watermarks(ConfigReader.Obj o, String path, double refuse,
      double reset) {
    ConfigReader.Obj w = o == null ? reader.new Obj(null, path) : o;
    GatewayConfig.Threshold refuseAt = w.threshold("refuseAt", refuse);
    GatewayConfig.Threshold resetAt = w.threshold("resetAt", reset);
    boolean comparable = (refuseAt.bytes() > 0) == (resetAt.bytes() > 0);
    if (comparable && (refuseAt.bytes() > 0 ? refuseAt.bytes() > resetAt.bytes()
        : refuseAt.fraction() > resetAt.fraction())) {
      reader.error(w.node("resetAt"), w.child("resetAt"), resetAt + " is below refuseAt "
          + refuseAt + " (expected: streams are reset only past the point where new ones are"
          + " refused)");
    }
    w.finish();
    return new GatewayConfig.Watermarks(refuseAt, resetAt);
  }

  private GatewayConfig.AbuseBan abuseBan(ConfigReader.Obj o) {
    ConfigReader.Obj b = o == null ? reader.new Obj(null, "limits.abuseBan") : o;
    GatewayConfig.AbuseBan ban = new GatewayConfig.AbuseBan(
        b.integer("afterCuts", 3, 1, 1_000),
        b.duration("within", Duration.ofMinutes(1), Duration.ofSeconds(1), Duration.ofDays(1)),
        b.duration("initialBan", Duration.ofSeconds(10), Duration.ZERO, Duration.ofDays(1)),
        b.duration("maxBan", Duration.ofMinutes(10), Duration.ZERO, Duration.ofDays(7)),
        b.integer("maxClients", 10_000, 1, 10_000_000));
    if (ban.maxBan().compareTo(ban.initialBan()) < 0) {
      reader.error(b.node("maxBan"), b.child("maxBan"), ConfigReader.format(ban.maxBan())
          + " is shorter than initialBan " + ConfigReader.format(ban.initialBan()));
    }
    b.finish();
    return ban;
  }

  GatewayConfig.Shutdown shutdown(ConfigReader.Obj o) {
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

  GatewayConfig.Discovery discovery(ConfigReader.Obj o) {
    if (o == null) {
      return new GatewayConfig.Discovery(List.of(), null);
    }
    List<String> endpoints = List.of();
    io.meshgate.resolver.EtcdTls tls = null;
    ConfigReader.Obj etcd = o.obj("etcd");
    if (etcd != null) {
      List<String> listed = etcd.strings("endpoints");
      try {
        endpoints = EtcdClients.parseEndpoints(String.join(",", listed));
      } catch (IllegalArgumentException e) {
        reader.error(etcd.node("endpoints"), etcd.child("endpoints"), e.getMessage());
      }
      ConfigReader.Obj t = etcd.obj("tls");
      if (t != null) {
        Path ca = t.has("caFile") ? context.file(t, "caFile") : null;
        Path cert = t.has("certFile") ? context.file(t, "certFile") : null;
        Path key = t.has("keyFile") ? context.file(t, "keyFile") : null;
        try {
          tls = io.meshgate.resolver.EtcdTls.of(ca, cert, key);
        } catch (IllegalArgumentException e) {
          reader.error(t.node, t.path, e.getMessage());
        }
        t.finish();
      }
      etcd.finish();
    }
    o.finish();
    return new GatewayConfig.Discovery(endpoints, tls);
  }
}
