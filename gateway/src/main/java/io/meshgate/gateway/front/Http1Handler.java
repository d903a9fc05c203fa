package io.meshgate.gateway.front;

import io.grpc.Status;
import io.meshgate.gateway.proxy.ProxyService;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Plain HTTP/1.1 requests on the main port. gRPC needs HTTP/2, so a gRPC request here gets 505
 * with a message saying so; REST routes arrive with the transcoder (until then: 404 JSON).
 * Honours keep-alive; while the gateway drains, answers with {@code Connection: close}.
 * Only on the connection's event loop.
 */
final class Http1Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
  // Only on the connection's event loop.
  private boolean draining;
  private boolean inFlight;

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    inFlight = true;
    FullHttpResponse response;
    if (!request.decoderResult().isSuccess()) {
      response = json(ctx, HttpResponseStatus.BAD_REQUEST, Status.Code.INVALID_ARGUMENT,
          "malformed HTTP/1.1 request: " + request.decoderResult().cause().getMessage());
    } else if (ProxyService.isGrpcContentType(request.headers().get(HttpHeaderNames.CONTENT_TYPE))) {
      response = json(ctx, HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
          Status.Code.UNIMPLEMENTED,
          "gRPC needs HTTP/2 (h2 with TLS, or h2c): this request came over HTTP/1.1");
    } else {
      response = json(ctx, HttpResponseStatus.NOT_FOUND, Status.Code.NOT_FOUND,
          "no route for " + request.method() + " " + request.uri());
    }
    boolean keepAlive = HttpUtil.isKeepAlive(request) && !draining;
    HttpUtil.setKeepAlive(response, keepAlive);
    ChannelFuture written = ctx.writeAndFlush(response);
    written.addListener(f -> {
      inFlight = false;
      if (draining) {
        ctx.close();
      }
    });
    if (!keepAlive) {
      written.addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == DrainEvent.INSTANCE) {
      draining = true;
      if (!inFlight) {
        ctx.close();
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ConnectionErrors.caught(ctx, cause);
  }

  static FullHttpResponse json(ChannelHandlerContext ctx, HttpResponseStatus status,
      Status.Code code, String message) {
    ByteBuf body = ByteBufUtil.writeUtf8(ctx.alloc(), ErrorResponses.json(code, message));
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
    return response;
  }
}
