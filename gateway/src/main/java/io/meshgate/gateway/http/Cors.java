package io.meshgate.gateway.http;

import io.meshgate.gateway.config.GatewayConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Cross-origin resource sharing ({@code transcoding.cors}; the Fetch standard's CORS protocol):
 * answers preflights and adds the {@code Access-Control-*} headers to responses for allowed
 * origins. A request from an origin that is not allowed gets no CORS headers (the browser then
 * blocks the response); its preflight gets 403. A protocol adds the headers its clients need to
 * send and read ({@link #withProtocolHeaders}). Immutable.
 */
public final class Cors {
  private final GatewayConfig.Cors config;
  private final boolean anyOrigin;
  private final List<String> allowHeaders;
  private final String exposeHeaders;

  /** The policy {@code config} describes. */
  public Cors(GatewayConfig.Cors config) {
    this(config, config.allowHeaders(), config.exposeHeaders());
  }

  private Cors(GatewayConfig.Cors config, List<String> allowHeaders,
      List<String> exposeHeaders) {
    this.config = config;
    this.anyOrigin = config.allowOrigins().contains("*");
    this.allowHeaders = List.copyOf(allowHeaders);
    this.exposeHeaders = exposeHeaders.isEmpty() ? null : String.join(", ", exposeHeaders);
  }

  /**
   * This policy for a protocol whose clients send {@code allow} headers and read {@code expose}
   * headers (gRPC-Web: {@code x-grpc-web}; {@code grpc-status}): preflights allow them besides
   * the configured ones, and responses expose them.
   */
  public Cors withProtocolHeaders(List<String> allow, List<String> expose) {
    java.util.LinkedHashSet<String> allowed = new java.util.LinkedHashSet<>(
        config.allowHeaders());
    if (!allowed.isEmpty()) {
      allowed.addAll(allow); // with none configured, the headers the browser asks for pass
    }
    java.util.LinkedHashSet<String> exposed = new java.util.LinkedHashSet<>(
        config.exposeHeaders());
    exposed.addAll(expose);
    return new Cors(config, List.copyOf(allowed), List.copyOf(exposed));
  }

  /** Whether requests from {@code origin} may read responses. */
  public boolean allows(String origin) {
    if (anyOrigin) {
      return true;
    }
    String lower = origin.toLowerCase(Locale.ROOT);
    for (String allowed : config.allowOrigins()) {
      if (allowed.equals(lower)) {
        return true;
      }
      int star = allowed.indexOf("://*.");
      if (star > 0) {
        String scheme = allowed.substring(0, star + 3);
        String suffix = allowed.substring(star + 4); // ".example.com" (with any port)
        if (lower.startsWith(scheme) && lower.length() > scheme.length() + suffix.length()
            && lower.endsWith(suffix)) {
          return true;
        }
      }
    }
    return false;
  }

  /** Adds the headers of an actual (not preflight) response to an allowed origin. */
  public void addResponseHeaders(String origin, HttpHeaders headers) {
    addOrigin(origin, headers);
    if (exposeHeaders != null) {
      headers.set(HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, exposeHeaders);
    }
  }

  private void addOrigin(String origin, HttpHeaders headers) {
    if (anyOrigin && !config.allowCredentials()) {
      headers.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    } else {
      headers.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
      headers.add(HttpHeaderNames.VARY, HttpHeaderNames.ORIGIN);
    }
    if (config.allowCredentials()) {
      headers.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
  }

  /**
   * The headers of a preflight answer (204) for an allowed origin.
   *
   * @param pathMethods the methods routes accept on the requested path
   * @param requestedHeaders the preflight's {@code Access-Control-Request-Headers}, or null
   */
  public void addPreflightHeaders(String origin, Set<String> pathMethods, String requestedHeaders,
      HttpHeaders headers) {
    addOrigin(origin, headers);
    List<String> methods = config.allowMethods().isEmpty() ? List.copyOf(pathMethods)
        : config.allowMethods();
    headers.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS, String.join(", ", methods));
    if (!allowHeaders.isEmpty()) {
      headers.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS,
          String.join(", ", allowHeaders));
    } else if (requestedHeaders != null && !requestedHeaders.isBlank()) {
      headers.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, requestedHeaders);
      headers.add(HttpHeaderNames.VARY, HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS);
    }
    headers.set(HttpHeaderNames.ACCESS_CONTROL_MAX_AGE, config.maxAge().toSeconds());
  }

  /** Whether a preflight may go ahead with {@code method} (when methods are configured). */
  public boolean allowsMethod(String method) {
    return config.allowMethods().isEmpty() || config.allowMethods().contains(method);
  }
}
