package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One port, every way in: h2c with prior knowledge, h2c through an HTTP/1.1 Upgrade, TLS with
 * ALPN for h2 and http/1.1, plain HTTP/1.1 — and plaintext refused where TLS is required.
 */
class FrontProtocolsIntegrationTest {
  private static SampleServer echo;
  private static TestGateway cleartext;
  private static TestGateway tlsOnly;
  private static TestGateway tlsAndPlaintext;

  @BeforeAll
  static void start() throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    String routes = """
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {service: meshgate.samples.echo.v1.EchoService}, cluster: echo}]
        """.formatted(echo.port());
    cleartext = TestGateway.start(routes);
    tlsOnly = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          tls: {certFile: tls/server.pem, keyFile: tls/server.key}
        admin: {host: 127.0.0.1, port: 0}
        """ + routes);
    tlsAndPlaintext = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          tls: {certFile: tls/server.pem, keyFile: tls/server.key, allowPlaintext: true}
        admin: {host: 127.0.0.1, port: 0}
        """ + routes);
  }

  @AfterAll
  static void stop() throws Exception {
    cleartext.close();
    tlsOnly.close();
    tlsAndPlaintext.close();
    echo.close();
  }

  private static String echo(ManagedChannel channel, String message) {
    return EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage(message).build()).getMessage();
  }

  private static ManagedChannel tlsChannel(TestGateway gateway) throws Exception {
    return gateway.track(NettyChannelBuilder.forAddress("localhost", gateway.port())
        .sslContext(GrpcSslContexts.forClient()
            .trustManager(TestGateway.resources().resolve("tls/ca.pem").toFile()).build())
        .build());
  }

  @Test
  void grpcOverH2cWithPriorKnowledge() {
    assertEquals("prior", echo(cleartext.channel(), "prior"));
  }

  @Test
  void grpcOverH2cUpgradeFromHttp1() {
    assertEquals("upgraded", echo(cleartext.upgradeChannel(), "upgraded"));
  }

  @Test
  void grpcOverTlsWithAlpn() throws Exception {
    assertEquals("secure", echo(tlsChannel(tlsOnly), "secure"));
  }

  @Test
  void tlsPortAlsoServesPlaintextWhenAllowed() throws Exception {
    assertEquals("secure", echo(tlsChannel(tlsAndPlaintext), "secure"));
    assertEquals("plain", echo(tlsAndPlaintext.channel(), "plain"));
  }

  @Test
  void tlsOnlyPortRefusesPlaintext() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> echo(tlsOnly.channel(), "plain"));
    // The client's error carries the gateway's reason (sent in a GOAWAY), not just a reset.
    assertTrue(String.valueOf(e.getStatus().getDescription()).contains("requires TLS"),
        e.getStatus().toString());
  }

  @Test
  void tlsOnlyPortTellsHttp1ClientsWhy() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + tlsOnly.port() + "/"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, response.statusCode());
    assertTrue(response.body().contains("requires TLS"), response.body());
  }

  @Test
  void plainHttp1RequestGetsJsonNotFound() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + cleartext.port() + "/v1/nowhere"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, response.statusCode());
    assertEquals(HttpClient.Version.HTTP_1_1, response.version());
    assertTrue(response.body().contains("\"code\":5"), response.body());
    assertTrue(response.body().contains("/v1/nowhere"), response.body());
  }

  @Test
  void httpClientUpgradesToH2c() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + cleartext.port() + "/v1/nowhere"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(HttpClient.Version.HTTP_2, response.version());
    assertEquals(404, response.statusCode());
  }

  @Test
  void alpnNegotiatesHttp2OrHttp1OverTls() throws Exception {
    SSLContext ssl = trustTestCa();
    for (HttpClient.Version version : HttpClient.Version.values()) {
      HttpClient client = HttpClient.newBuilder().version(version).sslContext(ssl).build();
      HttpResponse<String> response = client.send(HttpRequest.newBuilder(
          URI.create("https://localhost:" + tlsOnly.port() + "/v1/nowhere"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(version, response.version());
      assertEquals(404, response.statusCode());
    }
  }

  @Test
  void grpcOverHttp1IsRefusedWithAReason() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(
        "http://127.0.0.1:" + cleartext.port() + "/meshgate.samples.echo.v1.EchoService/Echo"))
        .header("content-type", "application/grpc")
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[5]))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(505, response.statusCode());
    assertTrue(response.body().contains("HTTP/2"), response.body());
  }

  private static SSLContext trustTestCa() throws Exception {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    try (InputStream in = java.nio.file.Files.newInputStream(
        TestGateway.resources().resolve("tls/ca.pem"))) {
      store.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
          .generateCertificate(in));
    }
    TrustManagerFactory trust =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    return context;
  }
}
