package io.meshgate.gateway.auth;

import com.nimbusds.jwt.JWTClaimsSet;
import io.grpc.Status;
import io.meshgate.gateway.auth.AuthException.Reason;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.config.GatewayConfig;
import io.micrometer.core.instrument.Counter;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The JWT policy of one route: a token from one of its providers is required, must verify, and
 * must grant the route's scopes and claims. Missing or invalid → UNAUTHENTICATED (401) with a
 * {@code WWW-Authenticate: Bearer} challenge ({@code error="invalid_token"} when a token was
 * there); valid but not enough → PERMISSION_DENIED (403); keys not loadable → UNAVAILABLE (503).
 * Thread-safe and immutable.
 */
public final class JwtAuthenticator {
  private final String route;
  private final List<JwtVerifier> providers;
  private final GatewayConfig.RouteAuth config;
  private final Map<Reason, Counter> failures;
  private final java.util.Set<String> tokenParameters = new java.util.HashSet<>();

  JwtAuthenticator(String route, List<JwtVerifier> providers, GatewayConfig.RouteAuth config,
      BiFunction<String, Reason, Counter> failureCounter) {
    this.route = route;
    this.providers = List.copyOf(providers);
    this.config = config;
    this.failures = new EnumMap<>(Reason.class);
    for (JwtVerifier provider : providers) {
      for (GatewayConfig.TokenSource source : provider.config().from()) {
        if (source.kind().equals("query")) {
          tokenParameters.add(source.name());
        }
      }
    }
    for (Reason reason : Reason.values()) {
      failures.put(reason, failureCounter.apply(route, reason));
    }
  }

  /** Checks the call's token; never throws. */
  public AuthResult authenticate(RequestView request) {
    String token = null;
    List<JwtVerifier> offered = new ArrayList<>(providers.size());
    for (JwtVerifier provider : providers) {
      String found = find(provider.config(), request);
      if (found != null && (token == null || token.equals(found))) {
        token = found;
        offered.add(provider);
      }
    }
    if (token == null) {
      failures.get(Reason.MISSING).increment();
      return AuthResult.denied(Status.UNAUTHENTICATED.withDescription("route '" + route
          + "' requires a bearer token"), "Bearer realm=\"meshgate\"");
    }
    JwtVerifier.Verified verified = null;
    AuthException first = null;
    for (JwtVerifier provider : offered) {
      try {
        verified = provider.verify(token);
        break;
      } catch (AuthException e) {
        // With several providers, the one the token names as issuer explains best.
        if (first == null || e.reason() != Reason.ISSUER && first.reason() == Reason.ISSUER) {
          first = e;
        }
      }
    }
    if (verified == null) {
      failures.get(first.reason()).increment();
      if (first.reason() == Reason.KEYS_UNAVAILABLE) {
        return AuthResult.denied(Status.UNAVAILABLE.withDescription(first.getMessage()), null);
      }
      return AuthResult.denied(Status.UNAUTHENTICATED.withDescription(
          "invalid token: " + first.getMessage()), "Bearer realm=\"meshgate\","
          + " error=\"invalid_token\", error_description=\"" + quoted(first.getMessage())
          + "\"");
    }
    String missing = missingGrant(verified.claims());
    if (missing != null) {
      failures.get(Reason.FORBIDDEN).increment();
      return AuthResult.denied(Status.PERMISSION_DENIED.withDescription("route '" + route
          + "' " + missing), "Bearer realm=\"meshgate\", error=\"insufficient_scope\""
          + (config.requireScopes().isEmpty() ? ""
              : ", scope=\"" + String.join(" ", config.requireScopes()) + "\""));
    }
    JwtVerifier provider = null;
    for (JwtVerifier p : providers) {
      if (p.name().equals(verified.provider())) {
        provider = p;
      }
    }
    Map<String, String> forward = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : provider.config().forwardClaims().entrySet()) {
      String value = claimText(verified.claims().getClaim(e.getKey()));
      if (value != null) {
        forward.put(e.getValue(), value);
      }
    }
    return AuthResult.allowed(verified.claims().getSubject(), forward,
        !config.forwardAuthorization(), verified.claims());
  }

  /**
   * A query string without the parameters tokens are read from, which are the gateway's and not
   * fields of the request; null stays null.
   */
  public String withoutTokenParameters(String rawQuery) {
    if (rawQuery == null || tokenParameters.isEmpty()) {
      return rawQuery;
    }
    StringBuilder kept = new StringBuilder(rawQuery.length());
    for (String pair : rawQuery.split("&")) {
      int eq = pair.indexOf('=');
      String name = eq < 0 ? pair : pair.substring(0, eq);
      if (!tokenParameters.contains(name)) {
        if (kept.length() > 0) {
          kept.append('&');
        }
        kept.append(pair);
      }
    }
    return kept.toString();
  }

  /** What the token lacks of the route's requirements, or null. */
  private String missingGrant(JWTClaimsSet claims) {
    if (!config.requireScopes().isEmpty()) {
      List<String> granted = new ArrayList<>();
      Object scope = claims.getClaim("scope");
      if (scope instanceof String s) {
        granted.addAll(List.of(s.trim().split("\\s+")));
      }
      Object scp = claims.getClaim("scp");
      if (scp instanceof Collection<?> list) {
        list.forEach(v -> granted.add(String.valueOf(v)));
      } else if (scp instanceof String s) {
        granted.addAll(List.of(s.trim().split("\\s+")));
      }
      for (String required : config.requireScopes()) {
        if (!granted.contains(required)) {
          return "requires scope '" + required + "', which the token does not grant";
        }
      }
    }
    for (Map.Entry<String, String> required : config.requireClaims().entrySet()) {
      Object value = claims.getClaim(required.getKey());
      boolean ok = value instanceof Collection<?> list
          ? list.stream().anyMatch(v -> String.valueOf(v).equals(required.getValue()))
          : value != null && String.valueOf(value).equals(required.getValue());
      if (!ok) {
        return "requires claim '" + required.getKey() + "' to be '" + required.getValue() + "'";
      }
    }
    return null;
  }

  /** Finds a provider's token in a request, or null. */
  private static String find(GatewayConfig.JwtProvider provider, RequestView request) {
    for (GatewayConfig.TokenSource source : provider.from()) {
      String token = switch (source.kind()) {
        case "header" -> fromHeader(request.header(source.name()), source.prefix());
        case "query" -> fromQuery(request.rawQuery(), source.name());
        case "cookie" -> fromCookie(request.header("cookie"), source.name());
        default -> null;
      };
      if (token != null && !token.isEmpty()) {
        return token;
      }
    }
    return null;
  }

  private static String fromHeader(String value, String prefix) {
    if (value == null) {
      return null;
    }
    if (prefix.isEmpty()) {
      return value.trim();
    }
    if (value.length() > prefix.length()
        && value.regionMatches(true, 0, prefix, 0, prefix.length())) {
      return value.substring(prefix.length()).trim();
    }
    return null;
  }

  private static String fromQuery(String query, String name) {
    if (query == null) {
      return null;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0 && pair.substring(0, eq).equals(name)) {
        try {
          return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
          return null;
        }
      }
    }
    return null;
  }

  private static String fromCookie(String header, String name) {
    if (header == null) {
      return null;
    }
    for (String cookie : header.split(";")) {
      int eq = cookie.indexOf('=');
      if (eq > 0 && cookie.substring(0, eq).trim().equals(name)) {
        return cookie.substring(eq + 1).trim();
      }
    }
    return null;
  }

  /** A claim as a metadata value: lists joined by commas, anything but printable ASCII escaped. */
  static String claimText(Object value) {
    if (value == null) {
      return null;
    }
    String text;
    if (value instanceof Collection<?> list) {
      List<String> parts = new ArrayList<>();
      list.forEach(v -> parts.add(String.valueOf(v)));
      text = String.join(",", parts);
    } else if (value instanceof java.util.Date date) {
      text = Long.toString(date.getTime() / 1000);
    } else {
      text = String.valueOf(value);
    }
    StringBuilder out = new StringBuilder(text.length());
    text.codePoints().forEach(c -> {
      if (c < 0x20 || c > 0x7e || c == '%') {
        for (byte b : new String(Character.toChars(c)).getBytes(StandardCharsets.UTF_8)) {
          out.append('%').append(String.format(Locale.ROOT, "%02X", b & 0xff));
        }
      } else {
        out.append((char) c);
      }
    });
    return out.toString();
  }

  /** Text for a quoted-string header parameter: printable ASCII only, no quotes. */
  private static String quoted(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      out.append(c < 0x20 || c > 0x7e || c == '"' || c == '\\' ? '?' : c);
    }
    return out.toString();
  }
}
