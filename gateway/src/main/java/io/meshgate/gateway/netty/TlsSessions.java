package io.meshgate.gateway.netty;

import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSessionContext;

/** The TLS sessions a context keeps for resumption. */
public final class TlsSessions {
  private TlsSessions() {}

  /**
   * Forgets every TLS session of {@code context}, so that none is resumed: a resumed session
   * keeps the certificates it was made with, which after a rotation are the old ones.
   */
  public static void forget(SSLSessionContext context) {
    if (context == null) {
      return;
    }
    for (var ids = context.getIds(); ids.hasMoreElements(); ) {
      SSLSession session = context.getSession(ids.nextElement());
      if (session != null) {
        session.invalidate();
      }
    }
  }
}
