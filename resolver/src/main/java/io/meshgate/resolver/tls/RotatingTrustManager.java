package io.meshgate.resolver.tls;

import java.net.Socket;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager over a PEM CA file that can be replaced while the process runs: give it to an
 * {@code SslContextBuilder} (or an {@code SSLContext}) and call {@link #reload} when the file
 * changes; every later handshake checks peers against the new CAs. A file that does not parse,
 * or holds no certificate, is refused and the CAs in use stay. Thread-safe.
 *
 * <pre>
 * RotatingTrustManager cas = RotatingTrustManager.load(Path.of("/etc/mesh/ca.pem"));
 * SslContext tls = GrpcSslContexts.forClient().trustManager(cas).build();
 * ...
 * cas.reload(); // when the file changed
 * </pre>
 */
public final class RotatingTrustManager extends X509ExtendedTrustManager {
  private final Path caFile;
  private final AtomicReference<X509ExtendedTrustManager> current = new AtomicReference<>();
  private final java.util.List<Runnable> onReload =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private RotatingTrustManager(Path caFile) {
    this.caFile = caFile;
  }

  /**
   * Loads {@code caFile} (null: the JVM's trusted CAs, never reloaded).
   *
   * @throws Exception naming the file and what is wrong with it
   */
  public static RotatingTrustManager load(Path caFile) throws Exception {
    RotatingTrustManager manager = new RotatingTrustManager(caFile);
    manager.reload();
    return manager;
  }

  /** Reads the file again; throws saying what is wrong, and keeps the CAs in use then. */
  public void reload() throws Exception {
    if (caFile != null) {
      PemFiles.chain(caFile); // says which file is broken, and how
    }
    if (current.getAndSet(trustManager(caFile)) != null) {
      onReload.forEach(Runnable::run);
    }
  }

  /** The CA file, or null for the JVM's. */
  public Path caFile() {
    return caFile;
  }

  /**
   * Runs {@code action} after each replacement, e.g. to forget TLS sessions made with the old
   * material (a resumed session would keep the identity it was made with).
   */
  public void onReload(Runnable action) {
    onReload.add(action);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    current.get().checkClientTrusted(chain, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    current.get().checkServerTrusted(chain, authType, socket);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    current.get().checkClientTrusted(chain, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    current.get().checkServerTrusted(chain, authType, engine);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    current.get().checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    current.get().checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return current.get().getAcceptedIssuers();
  }

  /**
   * The JDK's trust manager over the CA certificates in {@code caFile} (PEM, one or more), or
   * over the JVM's trusted CAs when {@code caFile} is null.
   *
   * @throws Exception naming what is wrong when the file holds no usable certificate
   */
  private static X509ExtendedTrustManager trustManager(Path caFile) throws Exception {
    TrustManagerFactory factory =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    if (caFile == null) {
      factory.init((KeyStore) null);
    } else {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      Collection<? extends Certificate> certificates;
      try (var in = Files.newInputStream(caFile)) {
        certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
      }
      if (certificates.isEmpty()) {
        throw new CertificateException("no certificate in " + caFile);
      }
      int i = 0;
      for (Certificate certificate : certificates) {
        store.setCertificateEntry("ca-" + i++, certificate);
      }
      factory.init(store);
    }
    for (TrustManager manager : factory.getTrustManagers()) {
      if (manager instanceof X509ExtendedTrustManager extended) {
        return extended;
      }
    }
    throw new IllegalStateException("the JVM has no X.509 trust manager");
  }
}
