package io.meshgate.gateway.netty;

import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;

/**
 * HTTP/2 connection state as the gateway's two sides use it. Outgoing DATA is shared among
 * streams by a {@link UniformStreamByteDistributor}: gRPC peers send no priorities (RFC 9113
 * deprecates them), and Netty's default weighted-fair distributor keeps a priority tree and
 * queue per stream that a proxy pays for on every frame.
 */
public final class Http2Connections {
  private Http2Connections() {}

  /** A new connection for the server ({@code true}) or client side. */
  public static Http2Connection newConnection(boolean server) {
    DefaultHttp2Connection connection = new DefaultHttp2Connection(server);
    connection.remote().flowController(new DefaultHttp2RemoteFlowController(connection,
        new UniformStreamByteDistributor(connection)));
    return connection;
  }

  /** A frame-codec builder for the server side over {@link #newConnection(boolean)}. */
  public static Http2FrameCodecBuilder serverCodecBuilder() {
    return new ServerCodecBuilder();
  }

  private static final class ServerCodecBuilder extends Http2FrameCodecBuilder {
    ServerCodecBuilder() {
      // The connection says it is the server's; server(true) may not be set beside it.
      connection(newConnection(true));
    }
  }
}
