package io.meshgate.gateway.front;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Drains an HTTP/2 connection the way grpc-java's server does: a first GOAWAY with the largest
 * stream id tells the client to open no new streams without refusing the ones already on the
 * wire; after a PING round trip (or a second at most) the connection is closed, which sends the
 * final GOAWAY with the real last stream id and lets the open streams finish within the codec's
 * graceful shutdown timeout.
 *
 * <p>Only on the connection's event loop.
 */
final class Http2Drainer extends ChannelInboundHandlerAdapter {
  private static final long PING_PAYLOAD = 0x6d65736867617465L; // "meshgate"
  private static final long PING_TIMEOUT_MILLIS = 1000;

  private final ConnectionErrors errors;

  // Only on the connection's event loop.
  private boolean draining;
  private ScheduledFuture<?> pingTimeout;

  Http2Drainer(ConnectionErrors errors) {
    this.errors = errors;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt != DrainEvent.INSTANCE) {
      ctx.fireUserEventTriggered(evt);
      return;
    }
    if (draining) {
      return;
    }
    draining = true;
    DefaultHttp2GoAwayFrame first = new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR);
    first.setExtraStreamIds(Integer.MAX_VALUE);
    ctx.write(first);
    ctx.writeAndFlush(new DefaultHttp2PingFrame(PING_PAYLOAD, false));
    pingTimeout = ctx.executor().schedule(() -> closeGracefully(ctx), PING_TIMEOUT_MILLIS,
        TimeUnit.MILLISECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // A class test, not the interface: see netty.Frames.
    if (msg instanceof DefaultHttp2PingFrame ping && ping.ack() && ping.content() == PING_PAYLOAD) {
      ReferenceCountUtil.release(msg);
      closeGracefully(ctx);
      return;
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    errors.caught(ctx, cause);
  }

  private void closeGracefully(ChannelHandlerContext ctx) {
    if (pingTimeout != null) {
      pingTimeout.cancel(false);
      pingTimeout = null;
    }
    // Http2ConnectionHandler.close(): final GOAWAY, then waits for active streams.
    ctx.channel().close();
  }
}
