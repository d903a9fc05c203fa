package io.meshgate.gateway.front;

import io.meshgate.gateway.config.ConfigError;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.TlsSessions;
import io.meshgate.resolver.tls.CertificateWatcher;
import io.meshgate.resolver.tls.RotatingKeyManager;
import io.meshgate.resolver.tls.RotatingTrustManager;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.util.ArrayList;
import java.util.List;

/**
 * The TLS of the main port: the configured certificate, HTTP/2 ciphers, ALPN, client
 * certificates checked against {@code clientCaFile}; certificate, key and client CAs are
 * reloaded when their files change ({@link #watch}), for every new handshake.
 */
public final class ServerTls {
  private final GatewayConfig.Tls config;
  private final String role;
  private final SslContext context;
  private final RotatingKeyManager keys;
  private final RotatingTrustManager clientCas;

  private ServerTls(GatewayConfig.Tls config, String role, SslContext context,
      RotatingKeyManager keys, RotatingTrustManager clientCas) {
    this.config = config;
    this.role = role;
    this.context = context;
    this.keys = keys;
    this.clientCas = clientCas;
  }

  /**
   * The TLS of {@code config}'s {@code listener.tls}, offering {@code h2} and {@code http/1.1}
   * by ALPN; null when the listener has no TLS.
   *
   * @throws ConfigException naming the files when the certificate, key or CAs cannot be used
   */
  public static ServerTls forListener(GatewayConfig config) throws ConfigException {
    return build(config, config.listener().tls(), "listener",
        ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);
  }

  /**
   * The TLS of {@code admin.tls} (HTTP/1.1), or null when the admin port has none.
   *
   * @throws ConfigException naming the files when the certificate, key or CAs cannot be used
   */
  public static ServerTls forAdmin(GatewayConfig config) throws ConfigException {
    return build(config, config.admin().tls(), "admin", ApplicationProtocolNames.HTTP_1_1);
  }

  private static ServerTls build(GatewayConfig config, GatewayConfig.Tls tls, String role,
      String... protocols) throws ConfigException {
    if (tls == null) {
      return null;
    }
    try {
      RotatingKeyManager keys = RotatingKeyManager.load(tls.certFile(), tls.keyFile());
      SslContextBuilder builder = SslContextBuilder.forServer(keys)
          .sslProvider(tls.provider().netty());
      RotatingTrustManager clientCas = null;
      if (tls.clientAuth() != GatewayConfig.ClientAuth.NONE) {
        clientCas = RotatingTrustManager.load(tls.clientCaFile());
        builder.trustManager(new ClientTrust(clientCas,
                tls.clientCaFile().getFileName().toString()))
            .clientAuth(tls.clientAuth() == GatewayConfig.ClientAuth.REQUIRE
                ? io.netty.handler.ssl.ClientAuth.REQUIRE
                : io.netty.handler.ssl.ClientAuth.OPTIONAL);
      }
      SslContext context = builder
          .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
          .applicationProtocolConfig(new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              protocols))
          .build();
      Runnable forget = () -> TlsSessions.forget(context.sessionContext());
      keys.onReload(forget);
      if (clientCas != null) {
        clientCas.onReload(forget);
      }
      return new ServerTls(tls, role, context, keys, clientCas);
    } catch (Exception e) {
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, role + ".tls",
          "cannot load certificate " + tls.certFile() + " with key " + tls.keyFile()
              + (tls.clientCaFile() == null ? "" : " and client CAs " + tls.clientCaFile())
              + " (expected: PEM certificate chain and PEM PKCS#8 private key): "
              + e.getMessage())));
    }
  }

  /**
   * Who the client of {@code engine}'s finished handshake is by a certificate the client CAs
   * verified, or null (none sent, none asked for, or one that failed the check).
   */
  public static io.meshgate.gateway.call.ClientIdentity verifiedClient(
      javax.net.ssl.SSLEngine engine) {
    javax.net.ssl.SSLSession session = engine.getSession();
    if (ClientTrust.rejection(session) != null) {
      return null;
    }
    try {
      java.security.cert.Certificate[] peer = session.getPeerCertificates();
      return peer.length > 0 && peer[0] instanceof java.security.cert.X509Certificate leaf
          ? io.meshgate.gateway.call.ClientIdentity.of(leaf) : null;
    } catch (javax.net.ssl.SSLPeerUnverifiedException none) {
      return null;
    }
  }

  /** The context new connections handshake with. */
  public SslContext context() {
    return context;
  }

  /** Reloads the certificate and key, and the client CAs, when their files change. */
  public List<CertificateWatcher.Watch> watch(CertificateWatcher watcher) {
    List<CertificateWatcher.Watch> watches = new ArrayList<>();
    watches.add(watcher.watch(role, List.of(config.certFile(), config.keyFile()),
        keys::reload, keys::certificate));
    if (clientCas != null) {
      watches.add(watcher.watch(role + " client CAs", List.of(config.clientCaFile()),
          clientCas::reload, null));
    }
    return watches;
  }

  /**
   * The first URI SAN of the gateway's own certificate (its workload identity, the {@code By}
   * of {@code x-forwarded-client-cert}), or null.
   */
  public String ownUri() {
    List<String> uris = io.meshgate.gateway.call.ClientIdentity.of(keys.certificate()).uris();
    return uris.isEmpty() ? null : uris.get(0);
  }
}
