package io.meshgate.gateway.websocket;

import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.http.HttpMetadata;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.route.Admission;
import io.meshgate.gateway.route.CallAdmission;
import io.meshgate.gateway.telemetry.CallRecord;
import io.meshgate.transcoder.HttpRoute;
import io.meshgate.transcoder.RouteMatch;
import io.meshgate.transcoder.StatusJson;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;

/**
 * WebSocket streams for REST routes: a {@code google.api.http} route of a streaming method,
 * opened with a WebSocket upgrade (RFC 6455, over HTTP/1.1), carries the stream — each text
 * frame one JSON request message, each response message one text frame, the final status as a
 * last JSON frame ({@code {"status":"OK"}} or {@code {"error":{...}}}) and a close whose code
 * matches it. Client, server and bidirectional methods alike. The upgrade request is admitted by
 * the same chain as every call (JWT, rate limits, ...) before the handshake, so a refused
 * client gets a plain HTTP answer. Thread-safe.
 */
public final class WebSocketService {
  /** Fired down an upgraded connection when the gateway drains: the stream ends, 1001. */
  public static final Object GOING_AWAY = new Object();
  private final CallAdmission admission;
  private final Descriptors descriptors;
  private final GatewayConfig.Transcoding transcoding;
  private final GatewayConfig.Limits limits;
  private final Set<String> forwardHeaders;

  /** @param descriptors the loaded descriptors, or null when transcoding is not configured */
  public WebSocketService(CallAdmission admission, Descriptors descriptors,
      GatewayConfig.Transcoding transcoding, GatewayConfig.Limits limits) {
    this.admission = admission;
    this.descriptors = descriptors;
    this.transcoding = transcoding;
    this.limits = limits;
    this.forwardHeaders = Set.copyOf(transcoding.forwardHeaders());
  }

  /** Whether {@code request} asks for a WebSocket ({@code Upgrade: websocket}). */
  public static boolean isUpgrade(io.netty.handler.codec.http.HttpRequest request) {
    String upgrade = request.headers().get(HttpHeaderNames.UPGRADE);
    return upgrade != null && upgrade.toLowerCase(Locale.ROOT).contains("websocket");
  }

  /**
   * Answers a WebSocket upgrade: matches the route, admits the call, and either shakes hands
   * and installs the stream's handler after {@code ctx} (returning true), or answers with a plain
   * HTTP error and closes the connection (returning false). Does not release {@code request}.
   *
   * @param onClosed run once the WebSocket (or the refused request) is done
   */
  public boolean upgrade(ChannelHandlerContext ctx, FullHttpRequest request, Runnable onClosed) {
    String[] target = HttpRequest.splitTarget(request.uri());
    HttpRequest view = new HttpRequest(request.method().name(), target[0], target[1],
        HttpRequest.Headers.of(request.headers()), new byte[0],
        Channels.clientAddress(ctx.channel()), request.headers().get(HttpHeaderNames.HOST),
        Channels.clientIdentity(ctx.channel()));
    CallRecord record = admission.record("websocket", view);
    record.http(view.method(), view.rawPath());
    Descriptors.Snapshot snapshot = descriptors == null ? Descriptors.Snapshot.empty()
        : descriptors.snapshot();
    RouteMatch match = snapshot.table().match("GET", view.rawPath());
    if (match.kind() == RouteMatch.Kind.METHOD_NOT_ALLOWED) {
      // A WebSocket handshake is a GET whatever the rule's method: the rule's own applies.
      for (String method : match.allowedMethods()) {
        match = snapshot.table().match(method, view.rawPath());
        break;
      }
    }
    if (match.kind() != RouteMatch.Kind.FOUND) {
      return refuse(ctx, record, onClosed, HttpResponseStatus.NOT_FOUND, Status.NOT_FOUND
          .withDescription("no REST route for " + view.rawPath() + " to open a WebSocket on"));
    }
    HttpRoute route = match.route();
    if (!route.clientStreaming() && !route.serverStreaming()) {
      return refuse(ctx, record, onClosed, HttpResponseStatus.BAD_REQUEST, Status.INVALID_ARGUMENT
          .withDescription(route.method().getFullName() + " is a unary method: call it with a"
              + " plain HTTP request (a WebSocket carries client, server and bidi streams)"));
    }
    Admission admitted = admission.admit(record, view, route.method().getService().getFullName(),
        route.method().getName());
    if (admitted.refusal() != null) {
      Status status = admitted.refusal().status();
      return refuse(ctx, record, onClosed, HttpResponseStatus.valueOf(
          StatusJson.httpStatus(status.getCode().value())), status);
    }
    io.grpc.Metadata metadata;
    try {
      metadata = HttpMetadata.toMetadata(view.headers(), forwardHeaders, view.clientAddress());
    } catch (IllegalArgumentException e) {
      return refuse(ctx, record, onClosed, HttpResponseStatus.BAD_REQUEST,
          Status.INVALID_ARGUMENT.withDescription(e.getMessage()));
    }
    String scheme = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null
        ? "ws" : "wss";
    WebSocketServerHandshaker handshaker = new WebSocketServerHandshakerFactory(scheme + "://"
        + view.authority() + request.uri(), null, false, limits.maxMessageBytes())
        .newHandshaker(request);
    if (handshaker == null) {
      record.finish(Status.Code.INVALID_ARGUMENT, 426);
      WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel())
          .addListener(ChannelFutureListener.CLOSE).addListener(f -> onClosed.run());
      return false;
    }
    WebSocketStream stream = new WebSocketStream(this, snapshot, match, view, admitted, record,
        metadata, handshaker, onClosed);
    ctx.pipeline().addAfter(ctx.name(), "websocket", stream);
    ctx.channel().config().setAutoRead(false); // frames are read once the stream is open
    handshaker.handshake(ctx.channel(), request).addListener(done -> {
      if (done.isSuccess()) {
        stream.open();
      } else {
        stream.handshakeFailed(done.cause());
      }
    });
    return true;
  }

  private static boolean refuse(ChannelHandlerContext ctx, CallRecord record, Runnable onClosed,
      HttpResponseStatus http, Status status) {
    byte[] body = (StatusJson.render(status.getCode().value(), status.getDescription(), null,
        com.google.protobuf.util.JsonFormat.TypeRegistry.getEmptyTypeRegistry()) + "\n")
        .getBytes(StandardCharsets.UTF_8);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, http,
        Unpooled.wrappedBuffer(body));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json")
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    if (status.getCode() == Status.Code.UNAUTHENTICATED) {
      response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
    }
    record.finish(status.getCode(), http.code());
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE)
        .addListener(f -> onClosed.run());
    return false;
  }

  GatewayConfig.Transcoding transcoding() {
    return transcoding;
  }

  GatewayConfig.Limits limits() {
    return limits;
  }

  /** The call descriptor of a route's method. */
  static MethodDescriptor<byte[], byte[]> methodDescriptor(HttpRoute route) {
    MethodDescriptor.MethodType type = route.clientStreaming()
        ? (route.serverStreaming() ? MethodDescriptor.MethodType.BIDI_STREAMING
            : MethodDescriptor.MethodType.CLIENT_STREAMING)
        : MethodDescriptor.MethodType.SERVER_STREAMING;
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(type)
        .setFullMethodName(route.grpcPath().substring(1))
        .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
        .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
        .build();
  }
}
