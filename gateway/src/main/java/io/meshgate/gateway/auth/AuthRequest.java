package io.meshgate.gateway.auth;

/** What authentication reads of a request: headers, and for REST the query string. */
public interface AuthRequest {
  /** The value of a header (name in lower case), or null. */
  String header(String name);

  /** The raw query string of a REST request (no {@code ?}), or null (always, for gRPC). */
  String rawQuery();
}
