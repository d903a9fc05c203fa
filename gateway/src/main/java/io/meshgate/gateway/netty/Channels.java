package io.meshgate.gateway.netty;

import io.meshgate.gateway.call.ClientIdentity;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/** What the gateway reads off a client's channel. */
public final class Channels {
  private static final AttributeKey<ClientIdentity> CLIENT_IDENTITY =
      AttributeKey.valueOf("meshgate.client-identity");

  private Channels() {}

  /** Who the client of a connection is by its certificate, or null. */
  public static ClientIdentity clientIdentity(Channel connection) {
    return connection.attr(CLIENT_IDENTITY).get();
  }

  /** Sets the identity the client of {@code connection} proved in its TLS handshake. */
  public static void setClientIdentity(Channel connection, ClientIdentity identity) {
    connection.attr(CLIENT_IDENTITY).set(identity);
  }

  /**
   * The client's IP address (no port) of a connection, or null when it has none (such as an
   * in-process or domain-socket channel).
   */
  public static String clientAddress(Channel connection) {
    SocketAddress address = connection.remoteAddress();
    if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress();
    }
    return null;
  }
}
