package io.meshgate.gateway.netty;

import java.net.Socket;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager over a CA file that can be replaced while the gateway runs; a file that does
 * not parse, or holds no certificate, is refused and the CAs in use stay. Thread-safe.
 */
public final class RotatingTrustManager extends X509ExtendedTrustManager {
  private final Path caFile;
  private final AtomicReference<X509ExtendedTrustManager> current = new AtomicReference<>();
  private final java.util.List<Runnable> onReload =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private RotatingTrustManager(Path caFile) {
    this.caFile = caFile;
  }

  /** Loads {@code caFile} (null: the JVM's trusted CAs, never reloaded). */
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
    if (current.getAndSet(TrustFiles.trustManager(caFile)) != null) {
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
}
