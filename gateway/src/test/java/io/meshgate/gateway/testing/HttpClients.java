package io.meshgate.gateway.testing;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * REST clients for tests: the JDK's HTTP client over plain HTTP/1.1, and over HTTP/2 with TLS
 * (ALPN h2), trusting the test CA. A gateway whose listener has TLS with {@code allowPlaintext}
 * serves both on one port.
 */
public final class HttpClients {
  /** How a test reaches the gateway. */
  public enum Protocol {
    HTTP_1_1("http", "127.0.0.1"),
    HTTP_2("https", "localhost");

    private final String scheme;
    private final String host;

    Protocol(String scheme, String host) {
      this.scheme = scheme;
      this.host = host;
    }

    /** {@code scheme://host:port} + {@code pathAndQuery}. */
    public URI uri(int port, String pathAndQuery) {
      return URI.create(scheme + "://" + host + ":" + port + pathAndQuery);
    }
  }

  private HttpClients() {}

  /** A client that speaks {@code protocol} (and nothing else). */
  public static HttpClient client(Protocol protocol) {
    HttpClient.Builder builder = HttpClient.newBuilder()
        .connectTimeout(Duration.ofSeconds(5))
        .followRedirects(HttpClient.Redirect.NEVER);
    if (protocol == Protocol.HTTP_1_1) {
      return builder.version(HttpClient.Version.HTTP_1_1).build();
    }
    return builder.version(HttpClient.Version.HTTP_2).sslContext(trustingTestCa()).build();
  }

  /** TLS that trusts the test CA ({@code tls/ca.pem}). */
  public static SSLContext trustingTestCa() {
    try (InputStream pem = Files.newInputStream(TestGateway.resources().resolve("tls/ca.pem"))) {
      Certificate ca = CertificateFactory.getInstance("X.509").generateCertificate(pem);
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      store.setCertificateEntry("ca", ca);
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (Exception e) {
      throw new IllegalStateException("cannot load the test CA", e);
    }
  }
}
