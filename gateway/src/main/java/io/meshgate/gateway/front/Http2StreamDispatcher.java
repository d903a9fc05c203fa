package io.meshgate.gateway.front;

import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.overload.OverloadManager;
import io.meshgate.gateway.proxy.ProxyService;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;

/**
 * The first handler of every HTTP/2 stream: reads the request headers and hands the stream to
 * the gRPC proxy ({@code content-type: application/grpc*}), or to a whole-request exchange for
 * gRPC-Web or the REST transcoder ({@link Adapters}).
 * Only on the stream's event loop.
 */
final class Http2StreamDispatcher extends ChannelInboundHandlerAdapter {
  /** Set on connections that became HTTP/2 through an HTTP/1.1 Upgrade. */
  static final AttributeKey<Boolean> UPGRADED = AttributeKey.valueOf("meshgate.h2c-upgraded");
  private final Adapters adapters;
  private final ConnectionGuard guard;
  private final ConnectionErrors errors;
  private final OverloadManager overload;
  private final long openedNanos;

  Http2StreamDispatcher(Adapters adapters, ConnectionGuard guard,
      ConnectionErrors errors, OverloadManager overload) {
    this.errors = errors;
    this.overload = overload;
    this.adapters = adapters;
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
    if (overload.isRefusing()) {
      refuse(ctx, headers);
      return;
    }
    if (ProxyService.isGrpc(headers.headers())) {
      ctx.pipeline().replace(this, "grpc-proxy",
          adapters.proxy().newStreamHandler(guard, openedNanos));
      ctx.fireChannelRead(msg);
      return;
    }
    CharSequence path = headers.headers().path();
    if (isUpgradeRequest(ctx) && path != null && "/".contentEquals(path)) {
      // The request that carried an h2c Upgrade: grpc-java's PLAINTEXT_UPGRADE sends "GET /"
      // only to switch protocols and fails the connection on any DATA on stream 1, so the
      // answer is bodiless. (Other upgrade requests, such as curl --http2's, are REST calls.)
      ReferenceCountUtil.release(msg);
      ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("404"),
          true)).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
      return;
    }
    ctx.pipeline().replace(this, "http", new io.meshgate.gateway.http.Http2Exchange(
        adapters.forHttp(headers.headers()), guard, openedNanos));
    ctx.fireChannelRead(msg);
  }

  /**
   * The gateway is out of memory: a gRPC stream gets REFUSED_STREAM, which tells the client that
   * nothing was processed (grpc clients retry it, on another gateway if they have one); a REST
   * request gets 503 with Retry-After and the reason.
   */
  private void refuse(ChannelHandlerContext ctx, Http2HeadersFrame headers) {
    overload.refused(OverloadManager.Refused.STREAM);
    boolean grpc = ProxyService.isGrpc(headers.headers());
    ReferenceCountUtil.release(headers);
    if (grpc) {
      ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(
          io.netty.handler.codec.http2.Http2Error.REFUSED_STREAM));
      return;
    }
    byte[] body = ErrorResponses.json(io.grpc.Status.Code.UNAVAILABLE,
        Http1Handler.overloadMessage(overload)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("503")
        .set("content-type", "application/json")
        .setLong("retry-after", overload.retryAfterSeconds()), false));
    ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(
        io.netty.buffer.Unpooled.wrappedBuffer(body), true))
        .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
  }

  private static boolean isUpgradeRequest(ChannelHandlerContext ctx) {
    Http2StreamChannel stream = (Http2StreamChannel) ctx.channel();
    return stream.stream().id() == Http2CodecUtil.HTTP_UPGRADE_STREAM_ID
        && Boolean.TRUE.equals(stream.parent().attr(UPGRADED).get());
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A stream error before the headers were dispatched (the codec resets the stream) counts
    // against the connection as in the adapters (MadeYouReset).
    boolean abusive = cause instanceof io.netty.handler.codec.http2.Http2Exception.StreamException
        && guard.onServerReset(System.nanoTime() - openedNanos, false);
    errors.caught(ctx, cause); // closes (resets) this stream only
    if (abusive) {
      guard.closeAbusiveConnection(ctx.channel().parent());
    }
  }
}
