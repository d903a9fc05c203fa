package io.meshgate.gateway.testing;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * An identity provider's key endpoint: serves a JSON Web Key Set over HTTPS (the test CA's
 * localhost certificate) at {@code /jwks.json}; the test swaps the set or makes it fail.
 */
public final class JwksServer implements AutoCloseable {
  private final HttpsServer server;
  private final AtomicInteger requests = new AtomicInteger();
  private volatile String body;
  private volatile int status = 200;

  private JwksServer(HttpsServer server, String body) {
    this.server = server;
    this.body = body;
  }

  /** Serves {@code jwks} with the certificate in {@code tlsDir} (server.pem, server.key). */
  public static JwksServer start(Path tlsDir, String jwks) throws Exception {
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.setHttpsConfigurator(new HttpsConfigurator(tls(tlsDir)));
    JwksServer jwksServer = new JwksServer(server, jwks);
    server.createContext("/jwks.json", exchange -> {
      jwksServer.requests.incrementAndGet();
      byte[] bytes = jwksServer.body.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("content-type", "application/jwk-set+json");
      exchange.sendResponseHeaders(jwksServer.status, bytes.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    });
    server.start();
    return jwksServer;
  }

  private static SSLContext tls(Path dir) throws Exception {
    String pem = Files.readString(dir.resolve("server.key"), StandardCharsets.US_ASCII);
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    PrivateKey key;
    try {
      key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (java.security.spec.InvalidKeySpecException e) {
      key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
    }
    Certificate[] chain;
    try (InputStream in = Files.newInputStream(dir.resolve("server.pem"))) {
      chain = CertificateFactory.getInstance("X.509").generateCertificates(in)
          .toArray(Certificate[]::new);
    }
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("server", key, new char[0], chain);
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(store, new char[0]);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keys.getKeyManagers(), null, null);
    return context;
  }

  /** {@code https://localhost:port/jwks.json}. */
  public URI uri() {
    return URI.create("https://localhost:" + server.getAddress().getPort() + "/jwks.json");
  }

  /** Serves another key set from now on. */
  public void serve(String jwks) {
    this.body = jwks;
    this.status = 200;
  }

  /** Answers every request with {@code status} from now on (an outage). */
  public void fail(int status) {
    this.status = status;
    this.body = "{\"error\":\"down\"}";
  }

  /** Requests served so far. */
  public int requests() {
    return requests.get();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
