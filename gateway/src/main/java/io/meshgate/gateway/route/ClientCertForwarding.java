package io.meshgate.gateway.route;

import io.grpc.Metadata;
import io.meshgate.gateway.call.ClientIdentity;
import io.meshgate.gateway.config.GatewayConfig;

/**
 * The {@code x-forwarded-client-cert} header a call takes upstream
 * ({@code listener.tls.forwardClientCert}, Envoy's modes): the client's own header is removed,
 * passed on, or appended to, and the client's certificate added, so that a backend knows who
 * called without trusting a header any client could write.
 */
public final class ClientCertForwarding {
  /** The header, in gRPC metadata. */
  public static final Metadata.Key<String> XFCC =
      Metadata.Key.of("x-forwarded-client-cert", Metadata.ASCII_STRING_MARSHALLER);

  private final GatewayConfig.ForwardClientCert mode;
  private final String by;

  /**
   * @param mode what to forward
   * @param by the gateway's own URI SAN (the {@code By} field), or null
   */
  public ClientCertForwarding(GatewayConfig.ForwardClientCert mode, String by) {
    this.mode = mode;
    this.by = by;
  }

  /** The forwarding of {@code config}'s listener (sanitize without TLS). */
  public static ClientCertForwarding of(GatewayConfig config, String gatewayUri) {
    GatewayConfig.Tls tls = config.listener().tls();
    return new ClientCertForwarding(tls == null ? GatewayConfig.ForwardClientCert.SANITIZE
        : tls.forwardClientCert(), gatewayUri);
  }

  /** Rewrites {@code headers}' XFCC for a call from {@code client} (null: no certificate). */
  public void apply(Metadata headers, ClientIdentity client) {
    if (mode == GatewayConfig.ForwardClientCert.ALWAYS_FORWARD) {
      return;
    }
    boolean mtls = client != null;
    if (mode == GatewayConfig.ForwardClientCert.SANITIZE || !mtls) {
      headers.removeAll(XFCC);
      return;
    }
    switch (mode) {
      case FORWARD -> { }
      case APPEND_FORWARD -> {
        String theirs = join(headers.getAll(XFCC));
        headers.removeAll(XFCC);
        String ours = client.xfccElement(by);
        headers.put(XFCC, theirs == null ? ours : theirs + "," + ours);
      }
      default -> { // SANITIZE_SET
        headers.removeAll(XFCC);
        headers.put(XFCC, client.xfccElement(by));
      }
    }
  }

  private static String join(Iterable<String> values) {
    if (values == null) {
      return null;
    }
    StringBuilder joined = new StringBuilder();
    for (String value : values) {
      joined.append(joined.length() == 0 ? "" : ",").append(value);
    }
    return joined.length() == 0 ? null : joined.toString();
  }
}
