package io.meshgate.gateway.front;

import io.grpc.Status;
import io.meshgate.gateway.proxy.ProxyService;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;

/**
 * The first handler of every HTTP/2 stream: reads the request headers and hands the stream to
 * the gRPC proxy ({@code content-type: application/grpc*}) or answers it as a plain HTTP request.
 * Only on the stream's event loop.
 */
final class Http2StreamDispatcher extends ChannelInboundHandlerAdapter {
  /** Set on connections that became HTTP/2 through an HTTP/1.1 Upgrade. */
  static final AttributeKey<Boolean> UPGRADED = AttributeKey.valueOf("meshgate.h2c-upgraded");
  private final ProxyService proxy;
  private final ConnectionGuard guard;
  private final long openedNanos;

  Http2StreamDispatcher(ProxyService proxy, ConnectionGuard guard) {
    this.proxy = proxy;
    this.guard = guard;
    this.openedNanos = System.nanoTime();
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    if (guard.isTripped()) {
      // The connection is being closed for abuse: no work for its streams, not even a reset
      // (its output is shut); they close with the connection.
      return;
    }
    // Streams read on demand (auto-read is off), so that a handler can stop reading to apply
    // back-pressure; ask for the request headers.
    ctx.read();
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof Http2HeadersFrame headers)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (ProxyService.isGrpc(headers.headers())) {
      ctx.pipeline().replace(this, "grpc-proxy", proxy.newStreamHandler(guard, openedNanos));
      ctx.fireChannelRead(msg);
      return;
    }
    // REST/JSON transcoding is not wired in yet: every plain HTTP request is an unknown route.
    Http2Headers request = headers.headers();
    if (isUpgradeRequest(ctx)) {
      // The request that carried an h2c Upgrade: grpc-java's PLAINTEXT_UPGRADE sends "GET /"
      // only to switch protocols and fails the connection on any DATA on stream 1, so the
      // answer is bodiless.
      ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("404"),
          true)).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
      return;
    }
    String message = "no route for " + request.method() + " " + request.path();
    ByteBuf body = ByteBufUtil.writeUtf8(ctx.alloc(),
        ErrorResponses.json(Status.Code.NOT_FOUND, message));
    Http2Headers response = new DefaultHttp2Headers()
        .status("404")
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
    ctx.write(new DefaultHttp2HeadersFrame(response, false));
    ctx.writeAndFlush(new DefaultHttp2DataFrame(body, true))
        .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
  }

  private static boolean isUpgradeRequest(ChannelHandlerContext ctx) {
    Http2StreamChannel stream = (Http2StreamChannel) ctx.channel();
    return stream.stream().id() == Http2CodecUtil.HTTP_UPGRADE_STREAM_ID
        && Boolean.TRUE.equals(stream.parent().attr(UPGRADED).get());
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ConnectionErrors.caught(ctx, cause); // closes (resets) this stream only
  }
}
