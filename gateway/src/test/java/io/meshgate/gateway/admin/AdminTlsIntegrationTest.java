package io.meshgate.gateway.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.resolver.tls.RotatingKeyManager;
import io.meshgate.resolver.tls.RotatingTrustManager;
import io.meshgate.testing.TestCa;
import io.meshgate.gateway.testing.TestGateway;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin port over HTTPS, where a client certificate of {@code admin.tls.clientCaFile}
 * authorizes the admin API as the bearer token does.
 */
class AdminTlsIntegrationTest {
  private static final String TOKEN = "0123456789abcdef0123456789abcdef";

  @TempDir Path dir;

  private static HttpClient client(TestCa ca, TestCa.Issued cert) throws Exception {
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(cert == null ? null : new KeyManager[] {RotatingKeyManager.load(cert.certFile(),
        cert.keyFile())}, new TrustManager[] {RotatingTrustManager.load(ca.caFile())}, null);
    return HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
  }

  private static HttpResponse<String> get(HttpClient client, int port, String path,
      String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port
        + path)).timeout(Duration.ofSeconds(10));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aClientCertificateOpensTheAdminApiAsTheTokenDoes() throws Exception {
    TestCa ca = TestCa.create("ops-ca", dir);
    TestCa.Issued server = ca.issue("admin", "127.0.0.1");
    try (TestGateway gateway = TestGateway.start("""
        listener: {host: 127.0.0.1, port: 0}
        admin:
          host: 127.0.0.1
          port: 0
          token: %s
          tls: {certFile: "%s", keyFile: "%s", clientCaFile: "%s"}
        clusters: [{name: echo, endpoints: ["127.0.0.1:1"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(TOKEN, server.certFile(), server.keyFile(), ca.caFile()))) {
      int port = gateway.gateway().adminPort();
      HttpClient anonymous = client(ca, null);
      assertEquals(200, get(anonymous, port, "/healthz", null).statusCode());
      HttpResponse<String> refused = get(anonymous, port, "/api/config", null);
      assertEquals(401, refused.statusCode());
      assertTrue(refused.body().contains("or a client certificate from ops-ca.pem"),
          refused.body());
      assertEquals(200, get(anonymous, port, "/api/config", TOKEN).statusCode());
      HttpClient operator = client(ca, ca.issue("operator", "spiffe://corp.example/ops/alice"));
      HttpResponse<String> config = get(operator, port, "/api/config", null);
      assertEquals(200, config.statusCode(), config.body());
      // A plain-HTTP client gets no answer from an HTTPS port.
      assertThrows(java.io.IOException.class, () -> HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz"))
              .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()));
    }
  }
}
