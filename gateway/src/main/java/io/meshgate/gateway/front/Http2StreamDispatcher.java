package io.meshgate.gateway.front;

import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.FrontStream;
import io.meshgate.gateway.netty.Http2StreamHandler;
import io.meshgate.gateway.netty.Http2Streams;
import io.meshgate.gateway.overload.OverloadManager;
import io.meshgate.gateway.proxy.ProxyService;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.AttributeKey;
import java.nio.charset.StandardCharsets;

/**
 * Opens the streams of one HTTP/2 connection: reads a stream's request headers and hands it to
 * the gRPC proxy ({@code content-type: application/grpc*}), or to a whole-request exchange for
 * gRPC-Web or the REST transcoder ({@link Adapters}). Only on the connection's event loop.
 */
final class Http2StreamDispatcher implements Http2Streams.Opener {
  /** Set on connections that became HTTP/2 through an HTTP/1.1 Upgrade. */
  static final AttributeKey<Boolean> UPGRADED = AttributeKey.valueOf("meshgate.h2c-upgraded");
  private final Adapters adapters;
  private final ConnectionGuard guard;
  private final OverloadManager overload;

  Http2StreamDispatcher(Adapters adapters, ConnectionGuard guard, OverloadManager overload) {
    this.overload = overload;
    this.adapters = adapters;
    this.guard = guard;
  }

  @Override
  public Http2StreamHandler open(FrontStream stream, Http2HeadersFrame headers) {
    guard.onStreamOpened();
    ConnectionTimer timer = ConnectionTimer.of(stream.connection());
    if (timer != null) {
      timer.streamOpened();
    }
    if (guard.isTripped()) {
      // The connection is being closed for abuse: no work for its streams, not even a reset
      // (its output is shut); they close with the connection.
      return null;
    }
    if (overload.isRefusing()) {
      refuse(stream, headers);
      return null;
    }
    long openedNanos = stream.openedNanos();
    if (ProxyService.isGrpc(headers.headers())) {
      return adapters.proxy().newStreamHandler(guard, openedNanos);
    }
    CharSequence path = headers.headers().path();
    if (isUpgradeRequest(stream) && path != null && "/".contentEquals(path)) {
      // The request that carried an h2c Upgrade: grpc-java's PLAINTEXT_UPGRADE sends "GET /"
      // only to switch protocols and fails the connection on any DATA on stream 1, so the
      // answer is bodiless. (Other upgrade requests, such as curl --http2's, are REST calls.)
      stream.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("404"),
          true));
      return null;
    }
    return new io.meshgate.gateway.http.Http2Exchange(adapters.forHttp(headers.headers()), guard,
        openedNanos);
  }

  @Override
  public void closed(FrontStream stream) {
    ConnectionTimer timer = ConnectionTimer.of(stream.connection());
    if (timer != null) {
      timer.streamClosed();
    }
  }

  /**
   * The gateway is out of memory: a gRPC stream gets REFUSED_STREAM, which tells the client that
   * nothing was processed (grpc clients retry it, on another gateway if they have one); a REST
   * request gets 503 with Retry-After and the reason.
   */
  private void refuse(FrontStream stream, Http2HeadersFrame headers) {
    overload.refused(OverloadManager.Refused.STREAM);
    if (ProxyService.isGrpc(headers.headers())) {
      stream.reset(Http2Error.REFUSED_STREAM);
      return;
    }
    byte[] body = ErrorResponses.json(io.grpc.Status.Code.UNAVAILABLE,
        Http1Handler.overloadMessage(overload)).getBytes(StandardCharsets.UTF_8);
    stream.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("503")
        .set("content-type", "application/json")
        .setLong("retry-after", overload.retryAfterSeconds()), false));
    stream.writeAndFlushWithFuture(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true))
        .addListener(written -> stream.close());
  }

  private static boolean isUpgradeRequest(FrontStream stream) {
    return stream.id() == Http2CodecUtil.HTTP_UPGRADE_STREAM_ID
        && Boolean.TRUE.equals(stream.connection().attr(UPGRADED).get());
  }
}
