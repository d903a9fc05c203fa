package io.meshgate.gateway.front;

import io.meshgate.gateway.netty.OneSidedTrustManager;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Checks client certificates against {@code listener.tls.clientCaFile}. With {@code clientAuth:
 * optional} the JDK lets a client whose certificate fails the check go on as if it had sent
 * none; the gateway instead turns it away (a certificate that does not verify is no anonymous
 * client), so the reason is kept in the handshake session for {@link #rejection}.
 */
final class ClientTrust extends OneSidedTrustManager {
  private static final String REJECTED = "meshgate.client-certificate-rejected";

  private final String trustedBy;

  ClientTrust(X509ExtendedTrustManager trust, String trustedBy) {
    super(true, trust);
    this.trustedBy = trustedBy;
  }

  /** Why the client's certificate was refused in {@code session}'s handshake, or null. */
  static String rejection(SSLSession session) {
    Object reason = session.getValue(REJECTED);
    return reason == null ? null : reason.toString();
  }

  @Override
  protected void check(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    try {
      verify(chain, authType);
    } catch (CertificateException e) {
      SSLSession handshake = engine == null ? null : engine.getHandshakeSession();
      if (handshake != null) {
        handshake.putValue(REJECTED, e.getMessage());
      }
      throw e;
    }
  }

  private void verify(X509Certificate[] chain, String authType) throws CertificateException {
    X509Certificate leaf = chain[0];
    String subject = leaf.getSubjectX500Principal().getName();
    String dates = validityProblem(leaf);
    if (dates != null) {
      throw new CertificateException("the client certificate (" + subject + ") " + dates);
    }
    try {
      trust.checkClientTrusted(chain, authType);
    } catch (CertificateException e) {
      throw new CertificateException("the client certificate (" + subject + ", issued by "
          + leaf.getIssuerX500Principal().getName() + ") is not trusted by " + trustedBy);
    }
  }
}
