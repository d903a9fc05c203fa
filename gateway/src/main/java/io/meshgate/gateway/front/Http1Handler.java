package io.meshgate.gateway.front;

import io.grpc.Status;
import io.meshgate.gateway.http.Http1Exchange;
import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.overload.OverloadManager;
import io.meshgate.gateway.proxy.ProxyService;
import io.meshgate.gateway.websocket.WebSocketService;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Plain HTTP/1.1 on the main port: REST requests go to the transcoder; a gRPC request gets 505
 * (gRPC needs HTTP/2). Keep-alive and pipelining: requests are answered one at a time, in order;
 * while one is answered the connection stops reading, and requests a client pipelined meanwhile
 * wait in a short queue (a client that pipelines more is disconnected). While the gateway drains,
 * answers carry {@code Connection: close}. Only on the connection's event loop.
 */
final class Http1Handler extends ChannelInboundHandlerAdapter {
  private static final int MAX_PIPELINED = 16;

  private final Adapters adapters;
  private final ConnectionErrors errors;
  private final OverloadManager overload;

  // Only on the event loop.
  private final ArrayDeque<Object> pipelined = new ArrayDeque<>();
  private Http1Exchange current;
  private boolean busy;
  private boolean draining;
  private boolean closeWhenDone;
  private boolean upgraded;

  Http1Handler(Adapters adapters, ConnectionErrors errors, OverloadManager overload) {
    this.adapters = adapters;
    this.errors = errors;
    this.overload = overload;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (upgraded) {
      ctx.fireChannelRead(msg); // WebSocket frames, for the stream's handler
      return;
    }
    if (!(msg instanceof FullHttpRequest) && !(msg instanceof Oversized)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (busy) {
      if (pipelined.size() >= MAX_PIPELINED) {
        ReferenceCountUtil.release(msg);
        ctx.close();
        return;
      }
      pipelined.add(msg);
      ctx.channel().config().setAutoRead(false);
      return;
    }
    handle(ctx, msg);
  }

  private void handle(ChannelHandlerContext ctx, Object msg) {
    busy = true;
    if (msg instanceof Oversized oversized) {
      // The aggregator discards the rest of the body, so the connection can stay open; closing
      // while the client still sends would reset it before the client reads the 413.
      boolean keepAlive = HttpUtil.isKeepAlive(oversized.request()) && !draining;
      closeWhenDone |= !keepAlive;
      current = new Http1Exchange(adapter(oversized.request()), oversized.request(), ctx,
          Channels.clientAddress(ctx.channel()), keepAlive, () -> onDone(ctx));
      current.startTooLarge();
      oversized.request().release();
      return;
    }
    FullHttpRequest request = (FullHttpRequest) msg;
    try {
      if (!request.decoderResult().isSuccess()) {
        respondDirectly(ctx, json(ctx, HttpResponseStatus.BAD_REQUEST,
            Status.Code.INVALID_ARGUMENT, "malformed HTTP/1.1 request: "
                + request.decoderResult().cause().getMessage()), false);
      } else if (overload.isRefusing()) {
        overload.refused(OverloadManager.Refused.REQUEST);
        respondDirectly(ctx, overloaded(ctx, overload), false);
      } else if (ProxyService.isGrpcContentType(
          request.headers().get(HttpHeaderNames.CONTENT_TYPE))) {
        respondDirectly(ctx, json(ctx, HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
            Status.Code.UNIMPLEMENTED,
            "gRPC needs HTTP/2 (h2 with TLS, or h2c): this request came over HTTP/1.1"),
            HttpUtil.isKeepAlive(request) && !draining);
      } else if (WebSocketService.isUpgrade(request)) {
        // The connection becomes the WebSocket's, and closes when it ends.
        closeWhenDone = true;
        upgraded = adapters.webSocket().upgrade(ctx, request, () -> onDone(ctx));
      } else {
        boolean keepAlive = HttpUtil.isKeepAlive(request) && !draining;
        closeWhenDone |= !keepAlive;
        current = new Http1Exchange(adapter(request), request, ctx,
            Channels.clientAddress(ctx.channel()),
            keepAlive, () -> onDone(ctx));
        current.start();
      }
    } finally {
      request.release();
    }
  }

  private io.meshgate.gateway.http.HttpAdapter adapter(FullHttpRequest request) {
    return adapters.forHttp(request.method().name(), request.uri(),
        name -> request.headers().get(name));
  }

  private void respondDirectly(ChannelHandlerContext ctx, FullHttpResponse response,
      boolean keepAlive) {
    HttpUtil.setKeepAlive(response, keepAlive);
    closeWhenDone |= !keepAlive;
    ctx.writeAndFlush(response).addListener(f -> onDone(ctx));
  }

  /** The exchange in flight is answered: on to the next pipelined request, or read on. */
  private void onDone(ChannelHandlerContext ctx) {
    busy = false;
    current = null;
    if (draining || closeWhenDone) {
      ctx.close();
      return;
    }
    Object next = pipelined.poll();
    if (next != null) {
      handle(ctx, next);
    } else if (ctx.channel().isActive()) {
      ctx.channel().config().setAutoRead(true);
      ConnectionTimer.of(ctx.channel()).responseDone();
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (current != null && ctx.channel().isWritable()) {
      current.onWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (current != null) {
      current.cancel("the client went away");
    }
    Object msg;
    while ((msg = pipelined.poll()) != null) {
      ReferenceCountUtil.release(msg);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == DrainEvent.INSTANCE && upgraded) {
      ctx.fireUserEventTriggered(WebSocketService.GOING_AWAY);
      return;
    }
    if (evt == DrainEvent.INSTANCE) {
      draining = true;
      if (!busy) {
        ctx.close();
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    errors.caught(ctx, cause);
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

  /** 503 with Retry-After, for a request refused because the gateway is out of memory. */
  static FullHttpResponse overloaded(ChannelHandlerContext ctx, OverloadManager overload) {
    FullHttpResponse response = json(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE,
        Status.Code.UNAVAILABLE, overloadMessage(overload));
    response.headers().set(HttpHeaderNames.RETRY_AFTER, overload.retryAfterSeconds());
    return response;
  }

  static String overloadMessage(OverloadManager overload) {
    String reason = overload.reason();
    return "the gateway is overloaded and takes no new requests for now"
        + (reason == null ? "" : " (" + reason + ")") + "; retry later or elsewhere";
  }

  /** A request whose body was larger than the limit: answered 413. */
  record Oversized(FullHttpRequest request) {}

  /**
   * Aggregates HTTP/1.1 requests up to the body limit; a larger one becomes {@link Oversized},
   * so that its 413 is a JSON status answered in order like any other response.
   */
  static final class Aggregator extends HttpObjectAggregator {
    Aggregator(int maxContentLength) {
      super(maxContentLength);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
      if (oversized instanceof HttpRequest request) {
        FullHttpRequest headersOnly = new io.netty.handler.codec.http.DefaultFullHttpRequest(
            request.protocolVersion(), request.method(), request.uri(),
            io.netty.buffer.Unpooled.EMPTY_BUFFER, request.headers(),
            io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
        ctx.fireChannelRead(new Oversized(headersOnly));
        return;
      }
      ctx.close();
    }
  }
}
