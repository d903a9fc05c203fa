package io.meshgate.gateway.websocket;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.route.Admission;
import io.meshgate.gateway.telemetry.CallRecord;
import io.meshgate.transcoder.JsonOptions;
import io.meshgate.transcoder.JsonTranscoder;
import io.meshgate.transcoder.RouteMatch;
import io.meshgate.transcoder.StatusJson;
import io.meshgate.transcoder.TranscodingException;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * One WebSocket carrying one streaming call. Text frames in are request messages (JSON, with
 * the route's path variables and query parameters bound into each); an empty text frame, or the
 * client's Close, ends the requests. Each response message goes out as a text frame (a binary
 * one for {@code google.api.HttpBody}), then the status as a last JSON frame and a Close whose
 * code says how it ended: 1000 OK; 1007 INVALID_ARGUMENT; 1008 UNAUTHENTICATED,
 * PERMISSION_DENIED, RESOURCE_EXHAUSTED; 1013 UNAVAILABLE; 1011 any other failure; 1009 for a
 * message over {@code limits.maxMessageBytes}; 1001 when the gateway drains or a ping goes
 * unanswered. Back-pressure both ways: the next frame is read only when the upstream call can
 * take a message, and the next response message is asked of the backend only while the socket
 * is writable. Only on the connection's event loop.
 */
final class WebSocketStream extends ChannelInboundHandlerAdapter {
  private final WebSocketService service;
  private final Descriptors.Snapshot snapshot;
  private final RouteMatch match;
  private final HttpRequest request;
  private final Admission admission;
  private final CallRecord record;
  private final Metadata metadata;
  private final WebSocketServerHandshaker handshaker;
  private final Runnable onClosed;

  // Only on the event loop.
  private ChannelHandlerContext ctx;
  private ClientCall<byte[], byte[]> call;
  private Metadata responseHeaders;
  private boolean halfClosed;
  private boolean finished;
  private boolean closedReported;
  private boolean responseWanted;
  private boolean readWanted;
  private boolean awaitingPong;
  private int requests;

  WebSocketStream(WebSocketService service, Descriptors.Snapshot snapshot, RouteMatch match,
      HttpRequest request, Admission admission, CallRecord record, Metadata metadata,
      WebSocketServerHandshaker handshaker, Runnable onClosed) {
    this.service = service;
    this.snapshot = snapshot;
    this.match = match;
    this.request = request;
    this.admission = admission;
    this.record = record;
    this.metadata = metadata;
    this.handshaker = handshaker;
    this.onClosed = onClosed;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  private JsonTranscoder transcoder() {
    return snapshot.transcoder();
  }

  private JsonOptions json() {
    return service.transcoding().rest().json();
  }

  /** The handshake is written: frames may flow. */
  void open() {
    ctx.pipeline().addBefore(ctx.name(), "ws-aggregator",
        new WebSocketFrameAggregator(service.limits().maxMessageBytes()));
    long ping = service.limits().connections().webSocketPingInterval().toMillis();
    ctx.pipeline().addBefore("ws-aggregator", "ws-idle",
        new IdleStateHandler(0, 0, ping, TimeUnit.MILLISECONDS));
    ctx.channel().config().setAutoRead(false);
    call = admission.open(WebSocketService.methodDescriptor(match.route()), metadata, -1, null,
        null, ctx.executor(), RetryPolicy.Replay.BYTE_ARRAYS,
        RetryPolicy.Replay.BYTE_ARRAYS, new Listener());
    if (!match.route().clientStreaming() && !match.route().hasBody()) {
      // A server stream whose rule takes no body: the request is the path and query alone.
      try {
        send(new byte[0]);
      } catch (TranscodingException e) {
        failRequest(e);
        return;
      }
    }
    if (ctx.channel().isWritable()) {
      call.request(1);
    } else {
      responseWanted = true;
    }
    readMore();
  }

  void handshakeFailed(Throwable cause) {
    finished = true;
    record.finish(Status.Code.UNAVAILABLE, 101);
    ctx.close();
  }

  /** Reads the next frame when the upstream call can take a message. */
  private void readMore() {
    if (finished) {
      return;
    }
    if (call == null || halfClosed || call.isReady()) {
      readWanted = false;
      ctx.read();
    } else {
      readWanted = true;
    }
  }

  private void send(byte[] json) throws TranscodingException {
    byte[] message = transcoder().request(match, request.rawQuery(), json, "application/json",
        routeOptions().ignoreUnknownQueryParameters());
    record.requestMessage(message.length);
    call.sendMessage(message);
    requests++;
    if (!match.route().clientStreaming()) {
      halfClose(); // a server stream takes one request
    }
  }

  private io.meshgate.gateway.config.GatewayConfig.RestOptions routeOptions() {
    return admission.route().rest() != null ? admission.route().rest()
        : service.transcoding().rest();
  }

  private void halfClose() {
    if (!halfClosed && call != null) {
      halfClosed = true;
      call.halfClose();
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (finished || call == null) {
        return;
      }
      if (msg instanceof TextWebSocketFrame text) {
        onText(ByteBufUtil.getBytes(text.content()));
      } else if (msg instanceof PingWebSocketFrame ping) {
        ctx.writeAndFlush(new PongWebSocketFrame(ping.content().retain()));
      } else if (msg instanceof PongWebSocketFrame) {
        awaitingPong = false;
      } else if (msg instanceof CloseWebSocketFrame) {
        halfClose(); // the client sends no more; the answers still come
      } else if (msg instanceof BinaryWebSocketFrame) {
        end(Status.INVALID_ARGUMENT.withDescription("this WebSocket takes JSON in text frames,"
            + " not binary frames"), null, WebSocketCloseStatus.INVALID_MESSAGE_TYPE);
        return;
      }
      readMore();
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onText(byte[] json) {
    if (halfClosed) {
      return; // a message after the requests ended (or a server stream's second) is dropped
    }
    if (json.length == 0) {
      halfClose();
      return;
    }
    try {
      send(json);
    } catch (TranscodingException e) {
      failRequest(e);
    }
  }

  private void failRequest(TranscodingException e) {
    end(Status.INVALID_ARGUMENT.withDescription("request message " + requests + ": "
        + e.getMessage()), null, null);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && responseWanted && !finished && call != null) {
      responseWanted = false;
      call.request(1);
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == WebSocketService.GOING_AWAY) {
      end(Status.UNAVAILABLE.withDescription("the gateway is shutting down: reconnect"), null,
          WebSocketCloseStatus.ENDPOINT_UNAVAILABLE);
      return;
    }
    if (evt instanceof IdleStateEvent idle && idle.state() == IdleState.ALL_IDLE) {
      if (awaitingPong) {
        end(Status.UNAVAILABLE.withDescription("the client did not answer a ping within "
            + service.limits().connections().webSocketPingInterval().toMillis() + " ms"), null,
            WebSocketCloseStatus.ENDPOINT_UNAVAILABLE);
      } else {
        awaitingPong = true;
        ctx.writeAndFlush(new PingWebSocketFrame(Unpooled.EMPTY_BUFFER));
        ctx.read();
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof TooLongFrameException) {
      end(Status.RESOURCE_EXHAUSTED.withDescription("a message is larger than the gateway"
          + " accepts (limits.maxMessageBytes: " + service.limits().maxMessageBytes()
          + " bytes)"), null, WebSocketCloseStatus.MESSAGE_TOO_BIG);
      return;
    }
    end(Status.INTERNAL.withDescription("the WebSocket failed: " + cause.getMessage()), null,
        WebSocketCloseStatus.PROTOCOL_ERROR);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (!finished) {
      finished = true;
      record.finish(Status.Code.CANCELLED, 101);
      if (call != null) {
        call.cancel("the WebSocket client went away", null);
      }
    }
    reportClosed();
    ctx.fireChannelInactive();
  }

  private void reportClosed() {
    if (!closedReported) {
      closedReported = true;
      onClosed.run();
    }
  }

  private final class Listener extends ClientCall.Listener<byte[]> {
    @Override
    public void onHeaders(Metadata headers) {
      responseHeaders = headers;
    }

    @Override
    public void onMessage(byte[] message) {
      if (finished) {
        return;
      }
      JsonTranscoder.Body body;
      try {
        body = transcoder().response(match.route(), message, json());
      } catch (InvalidProtocolBufferException e) {
        call.cancel("the gateway cannot read the response", e);
        return;
      }
      record.responseMessage(body.bytes().length);
      ctx.writeAndFlush(body.contentType().equals("application/json")
          ? new TextWebSocketFrame(Unpooled.wrappedBuffer(body.bytes()))
          : new BinaryWebSocketFrame(Unpooled.wrappedBuffer(body.bytes())));
      if (ctx.channel().isWritable()) {
        call.request(1);
      } else {
        responseWanted = true;
      }
    }

    @Override
    public void onReady() {
      if (readWanted) {
        readMore();
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (finished) {
        return;
      }
      end(admission.upstreamClosed(status, responseHeaders != null, trailers), trailers, null);
    }
  }

  /**
   * Ends the stream: the status as the last JSON frame, then a Close with the matching code (or
   * {@code close}), and the upstream call cancelled if it still runs.
   */
  private void end(Status status, Metadata trailers, WebSocketCloseStatus close) {
    if (finished) {
      return;
    }
    finished = true;
    if (call != null && (close != null || !status.isOk())) {
      call.cancel(status.getDescription(), null);
    }
    String last = status.isOk() ? "{\"status\":\"OK\"}" : "{\"error\":" + StatusJson.render(
        status.getCode().value(), status.getDescription(), trailers == null ? null
            : trailers.get(STATUS_DETAILS), snapshot.pool().typeRegistry()) + "}";
    record.finish(status.getCode(), 101);
    if (ctx.channel().isActive()) {
      ctx.write(new TextWebSocketFrame(last));
      WebSocketCloseStatus code = close != null ? close : closeStatus(status.getCode());
      handshaker.close(ctx.channel(), new CloseWebSocketFrame(code.code(),
          status.getCode().name())).addListener(ChannelFutureListener.CLOSE);
    }
  }

  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /** The Close code of a call that ended with {@code code}. */
  static WebSocketCloseStatus closeStatus(Status.Code code) {
    return switch (code) {
      case OK -> WebSocketCloseStatus.NORMAL_CLOSURE;
      case INVALID_ARGUMENT -> WebSocketCloseStatus.INVALID_PAYLOAD_DATA;
      case UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED ->
          WebSocketCloseStatus.POLICY_VIOLATION;
      case UNAVAILABLE -> WebSocketCloseStatus.TRY_AGAIN_LATER;
      default -> WebSocketCloseStatus.INTERNAL_SERVER_ERROR;
    };
  }
}
