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
  private static final AttributeKey<String> CLIENT_ADDRESS =
      AttributeKey.valueOf("meshgate.client-address");

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
    // Formatted once per connection, not for every call on it (a string and its bytes each).
    io.netty.util.Attribute<String> cached = connection.attr(CLIENT_ADDRESS);
    String text = cached.get();
    if (text == null) {
      SocketAddress address = connection.remoteAddress();
      if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
        text = inet.getAddress().getHostAddress();
        cached.set(text);
      }
    }
    return text;
  }
}
