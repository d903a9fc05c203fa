package io.meshgate.gateway.netty;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/** Trust managers over PEM CA files, for the gateway's own certificate checks. */
public final class TrustFiles {
  private TrustFiles() {}

  /** Forgets every TLS session of {@code context}, so that none is resumed. */
  public static void forgetSessions(javax.net.ssl.SSLSessionContext context) {
    if (context == null) {
      return;
    }
    for (var ids = context.getIds(); ids.hasMoreElements(); ) {
      javax.net.ssl.SSLSession session = context.getSession(ids.nextElement());
      if (session != null) {
        session.invalidate();
      }
    }
  }

  /**
   * The JDK's trust manager over the CA certificates in {@code caFile} (PEM, one or more), or
   * over the JVM's trusted CAs when {@code caFile} is null.
   *
   * @throws Exception naming what is wrong when the file holds no usable certificate
   */
  public static X509ExtendedTrustManager trustManager(Path caFile) throws Exception {
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
