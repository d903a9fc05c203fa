package io.meshgate.gateway.netty;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The skeleton of a trust manager that checks one side of a handshake only (the clients of the
 * front, or the backends of a cluster) with messages of its own: every check of that side goes
 * to {@link #check}, the other side is refused, and the accepted issuers are those of the
 * trust manager it checks chains with.
 */
public abstract class OneSidedTrustManager extends X509ExtendedTrustManager {
  private final boolean checksClients;
  /** Checks chains against the trusted CAs. */
  protected final X509ExtendedTrustManager trust;

  /**
   * @param checksClients true for client certificates, false for servers'
   * @param trust checks chains against the trusted CAs
   */
  protected OneSidedTrustManager(boolean checksClients, X509ExtendedTrustManager trust) {
    this.checksClients = checksClients;
    this.trust = trust;
  }

  /** Checks {@code chain}; {@code engine} is null when the JDK gives none. */
  protected abstract void check(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException;

  /**
   * What is wrong with the dates of {@code leaf} — "expired on ..." or "is valid only from
   * ..." — or null when it is valid now.
   */
  protected static String validityProblem(X509Certificate leaf) {
    try {
      leaf.checkValidity();
      return null;
    } catch (CertificateExpiredException e) {
      return "expired on " + leaf.getNotAfter().toInstant();
    } catch (CertificateNotYetValidException e) {
      return "is valid only from " + leaf.getNotBefore().toInstant();
    }
  }

  private void side(boolean clients, X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    if (clients != checksClients) {
      throw new CertificateException("this trust manager checks "
          + (checksClients ? "clients" : "servers") + " only");
    }
    check(chain, authType, engine);
  }

  @Override
  public final void checkClientTrusted(X509Certificate[] chain, String authType,
      SSLEngine engine) throws CertificateException {
    side(true, chain, authType, engine);
  }

  @Override
  public final void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    side(true, chain, authType, null);
  }

  @Override
  public final void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    side(true, chain, authType, null);
  }

  @Override
  public final void checkServerTrusted(X509Certificate[] chain, String authType,
      SSLEngine engine) throws CertificateException {
    side(false, chain, authType, engine);
  }

  @Override
  public final void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    side(false, chain, authType, null);
  }

  @Override
  public final void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    side(false, chain, authType, null);
  }

  @Override
  public final X509Certificate[] getAcceptedIssuers() {
    return trust.getAcceptedIssuers();
  }
}
