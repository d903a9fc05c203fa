package io.meshgate.gateway.netty;

import io.meshgate.gateway.call.ClientIdentity;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/** What the gateway reads off a client's channel. */
public final class Channels {
  private static final AttributeKey<ClientIdentity> CLIENT_IDENTITY =
      AttributeKey.valueOf("meshgate.client-identity");

  private Channels() {}

  /** Who the client of a connection (or of one of its streams) is by its certificate, or null. */
  public static ClientIdentity clientIdentity(Channel channel) {
    Channel connection = channel instanceof Http2StreamChannel ? channel.parent() : channel;
    return connection.attr(CLIENT_IDENTITY).get();
  }

  /** Sets the identity the client of {@code connection} proved in its TLS handshake. */
  public static void setClientIdentity(Channel connection, ClientIdentity identity) {
    connection.attr(CLIENT_IDENTITY).set(identity);
  }

  /**
   * The client's IP address (no port) of a connection or of one of its HTTP/2 streams, or null
   * when it has none (such as an in-process or domain-socket channel).
   */
  public static String clientAddress(Channel channel) {
    Channel connection = channel instanceof Http2StreamChannel ? channel.parent() : channel;
    SocketAddress address = connection.remoteAddress();
    if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress();
    }
    return null;
  }
}
