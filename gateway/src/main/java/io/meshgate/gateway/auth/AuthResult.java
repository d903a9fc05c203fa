package io.meshgate.gateway.auth;

import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Map;

/**
 * The outcome of authenticating a call: either the claims to forward upstream, or the status
 * to answer with and the {@code WWW-Authenticate} challenge that goes with it.
 */
public final class AuthResult {
  private final Status status;
  private final String challenge;
  private final String subject;
  private final Map<String, String> forward;
  private final boolean stripAuthorization;
  private final com.nimbusds.jwt.JWTClaimsSet claims;

  private AuthResult(Status status, String challenge, String subject,
      Map<String, String> forward, boolean stripAuthorization,
      com.nimbusds.jwt.JWTClaimsSet claims) {
    this.claims = claims;
    this.status = status;
    this.challenge = challenge;
    this.subject = subject;
    this.forward = forward;
    this.stripAuthorization = stripAuthorization;
  }

  static AuthResult allowed(String subject, Map<String, String> forward,
      boolean stripAuthorization, com.nimbusds.jwt.JWTClaimsSet claims) {
    return new AuthResult(null, null, subject, forward, stripAuthorization, claims);
  }

  static AuthResult denied(Status status, String challenge) {
    return new AuthResult(status, challenge, null, Map.of(), false, null);
  }

  /** Claims of a call without a verified token: none. */
  public static final java.util.function.Function<String, String> NO_CLAIMS = name -> null;

  /** A claim of the verified token as text (lists joined by commas), or null. */
  public String claim(String name) {
    return claims == null ? null : JwtAuthenticator.claimText(claims.getClaim(name));
  }

  /** Whether the call may go on. */
  public boolean isAllowed() {
    return status == null;
  }

  /** UNAUTHENTICATED, PERMISSION_DENIED or UNAVAILABLE, with a message; null when allowed. */
  public Status status() {
    return status;
  }

  /** The {@code WWW-Authenticate} value for a denied call, or null. */
  public String challenge() {
    return challenge;
  }

  /** The token's {@code sub}, or null. */
  public String subject() {
    return subject;
  }

  /** Adds the forwarded claims to the upstream metadata, and strips the token if asked to. */
  public void applyTo(Metadata metadata) {
    if (stripAuthorization) {
      metadata.removeAll(AUTHORIZATION);
    }
    forward.forEach((header, value) -> {
      Metadata.Key<String> key = Metadata.Key.of(header, Metadata.ASCII_STRING_MARSHALLER);
      metadata.removeAll(key);
      metadata.put(key, value);
    });
  }

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
}
