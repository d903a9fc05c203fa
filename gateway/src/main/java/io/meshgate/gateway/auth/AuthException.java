package io.meshgate.gateway.auth;

/** A token that does not pass, with the reason (a metric label) and a message for the caller. */
final class AuthException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why a token failed; the names are the {@code reason} label of the failure metric. */
  enum Reason {
    MISSING, TOO_LARGE, MALFORMED, ALGORITHM, UNKNOWN_KID, BAD_SIGNATURE, EXPIRED,
    NOT_YET_VALID, ISSUER, AUDIENCE, KEYS_UNAVAILABLE, FORBIDDEN;

    String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final Reason reason;

  AuthException(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  Reason reason() {
    return reason;
  }
}
