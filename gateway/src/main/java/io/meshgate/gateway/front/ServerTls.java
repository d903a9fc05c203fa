package io.meshgate.gateway.front;

import io.meshgate.gateway.config.ConfigError;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.GatewayConfig;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.util.List;

/** The TLS context of the main port: the configured certificate, HTTP/2 ciphers, ALPN. */
public final class ServerTls {
  private ServerTls() {}

  /**
   * The server context of {@code config}'s {@code listener.tls}, offering {@code h2} and
   * {@code http/1.1} by ALPN; null when the listener has no TLS.
   *
   * @throws ConfigException naming the files when the certificate or key cannot be used
   */
  public static SslContext forListener(GatewayConfig config) throws ConfigException {
    GatewayConfig.Tls tls = config.listener().tls();
    if (tls == null) {
      return null;
    }
    try {
      return SslContextBuilder.forServer(tls.certFile().toFile(), tls.keyFile().toFile())
          .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
          .applicationProtocolConfig(new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
          .build();
    } catch (Exception e) {
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, "listener.tls",
          "cannot load certificate " + tls.certFile() + " with key " + tls.keyFile()
              + " (expected: PEM certificate chain and PEM PKCS#8 private key): "
              + e.getMessage())));
    }
  }
}
