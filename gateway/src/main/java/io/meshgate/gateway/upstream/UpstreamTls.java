package io.meshgate.gateway.upstream;

import io.grpc.netty.GrpcSslContexts;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.TlsSessions;
import io.meshgate.resolver.tls.RotatingKeyManager;
import io.meshgate.resolver.tls.RotatingTrustManager;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.function.Consumer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The TLS client context of a cluster ({@code clusters[].tls}): the trusted CAs (the file's, or
 * the JVM's), the gateway's own certificate for mTLS, TLS 1.2 or 1.3 with ALPN {@code h2}, and
 * a check of each endpoint's certificate that says, when it fails, what a person can fix:
 * whose certificate, and whether it is untrusted, expired, for another name or without an
 * allowed SAN. Each failure is counted by reason.
 */
final class UpstreamTls {
  private UpstreamTls() {}

  /** A cluster's TLS context and the material it reloads. */
  record Material(SslContext context, RotatingKeyManager keys, RotatingTrustManager cas) {}

  /**
   * Builds the context.
   *
   * @param failed told the reason of every rejected endpoint certificate ({@code untrusted},
   *     {@code expired}, {@code not_yet_valid}, {@code hostname}, {@code subject_alt_name})
   * @throws SSLException when the files cannot be used
   */
  static Material context(String cluster, GatewayConfig.UpstreamTls config,
      Consumer<String> failed) throws SSLException {
    RotatingTrustManager cas;
    RotatingKeyManager keys = null;
    try {
      cas = RotatingTrustManager.load(config.caFile());
      if (config.certFile() != null) {
        keys = RotatingKeyManager.load(config.certFile(), config.keyFile());
      }
    } catch (Exception e) {
      throw new SSLException(e.getMessage(), e);
    }
    SslContextBuilder builder = GrpcSslContexts.configure(SslContextBuilder.forClient(),
            config.provider().netty())
        .trustManager(new EndpointTrust(cluster, config, cas, failed))
        .protocols(config.minVersion().equals("TLSv1.3") ? new String[] {"TLSv1.3"}
            : new String[] {"TLSv1.3", "TLSv1.2"});
    if (keys != null) {
      builder.keyManager(keys);
    }
    SslContext context = builder.build();
    // A resumed session keeps the certificate it was made with: after a change, none resumes.
    Runnable forget = () -> TlsSessions.forget(context.sessionContext());
    cas.onReload(forget);
    if (keys != null) {
      keys.onReload(forget);
    }
    return new Material(context, keys, cas);
  }

  /** Checks an endpoint's certificate chain; server side only. */
  static final class EndpointTrust extends io.meshgate.gateway.netty.OneSidedTrustManager {
    private final String cluster;
    private final GatewayConfig.UpstreamTls config;
    private final Consumer<String> failed;
    private final String trustedBy;

    EndpointTrust(String cluster, GatewayConfig.UpstreamTls config,
        X509ExtendedTrustManager trust, Consumer<String> failed) {
      super(false, trust);
      this.cluster = cluster;
      this.config = config;
      this.failed = failed;
      this.trustedBy = config.caFile() == null ? "the JVM's trusted CAs"
          : config.caFile().getFileName().toString();
    }

    @Override
    protected void check(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain, authType, engine == null ? "the endpoint"
          : engine.getPeerHost() + ":" + engine.getPeerPort(), engine);
    }

    private void check(X509Certificate[] chain, String authType, String peer, SSLEngine engine)
        throws CertificateException {
      if (chain == null || chain.length == 0) {
        throw fail("untrusted", peer + " sent no certificate");
      }
      X509Certificate leaf = chain[0];
      String subject = leaf.getSubjectX500Principal().getName();
      String dates = validityProblem(leaf);
      if (dates != null) {
        throw fail(dates.startsWith("expired") ? "expired" : "not_yet_valid",
            "the certificate of " + peer + " (" + subject + ") " + dates);
      }
      try {
        trust.checkServerTrusted(chain, authType); // the chain alone, no names
      } catch (CertificateException e) {
        throw fail("untrusted", "the certificate of " + peer + " (" + subject + ", issued by "
            + leaf.getIssuerX500Principal().getName() + ") is not trusted by " + trustedBy);
      }
      List<String> sans = subjectAltNames(leaf);
      if (!config.subjectAltNames().isEmpty()) {
        for (String san : sans) {
          for (String allowed : config.subjectAltNames()) {
            if (allowed.endsWith("*") ? san.startsWith(allowed.substring(0,
                allowed.length() - 1)) : san.equals(allowed)) {
              return;
            }
          }
        }
        throw fail("subject_alt_name", "the certificate of " + peer + " carries the SANs "
            + sans + ", none of them in clusters[" + cluster + "].tls.subjectAltNames "
            + config.subjectAltNames());
      }
      if (engine != null) {
        try {
          trust.checkServerTrusted(chain, authType, engine); // now with the host name
        } catch (CertificateException e) {
          throw fail("hostname", "the certificate of " + peer + " (SANs " + sans
              + ") is not for the name the gateway asked for (" + e.getMessage()
              + "); set clusters[" + cluster + "].tls.serverName or subjectAltNames");
        }
      }
    }

    private CertificateException fail(String reason, String message) {
      failed.accept(reason);
      return new CertificateException("cluster '" + cluster + "': " + message);
    }
  }

  /** The URI, DNS and IP subject alternative names of {@code certificate}. */
  static List<String> subjectAltNames(X509Certificate certificate) {
    return io.meshgate.gateway.call.ClientIdentity.subjectAltNames(certificate,
        io.meshgate.gateway.call.ClientIdentity.DNS, io.meshgate.gateway.call.ClientIdentity.URI,
        io.meshgate.gateway.call.ClientIdentity.IP);
  }
}
