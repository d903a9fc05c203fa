package io.meshgate.gateway.call;

/**
 * What the route policies (authentication, rate limits, the cluster choice) read of an incoming
 * call, whichever protocol carried it. One per call, made once by the protocol's adapter.
 */
public interface RequestView {
  /** The value of a request header (name in lower case), or null. */
  String header(String name);

  /** The raw query string of a REST request (no {@code ?}), or null (always, for gRPC). */
  String rawQuery();

  /** The TCP peer's address, or null. */
  String peerAddress();

  /** The request's {@code :authority} (HTTP/1.1: {@code Host}), or null. */
  String authority();

  /** The HTTP method of a REST or browser request ({@code GET}, ...), or null for gRPC. */
  default String httpMethod() {
    return null;
  }

  /** Who the client proved to be with a TLS certificate, or null (none, or no TLS). */
  default ClientIdentity clientIdentity() {
    return null;
  }
}
