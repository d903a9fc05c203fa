package io.meshgate.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.EventExecutor;

/**
 * One HTTP/1.1 request/response exchange on a keep-alive connection: a whole response with
 * {@code content-length}, or a streamed one with chunked transfer encoding (and the trailers in
 * the last chunk). An HTTP/1.0 client gets a streamed response without chunking, ended by
 * closing the connection. Only on the connection's event loop.
 */
public final class Http1Exchange implements HttpResponder {
  private final HttpAdapter adapter;
  private final ChannelHandlerContext ctx;
  private final HttpCall call;
  private final boolean head;
  private final boolean http10;
  private final boolean keepAlive;
  private final Runnable onDone;
  private boolean chunked;

  /**
   * An exchange for a complete request; {@link #start} runs it.
   *
   * @param clientAddress the client's IP address, or null
   * @param onDone run once the response is written
   */
  public Http1Exchange(HttpAdapter adapter, FullHttpRequest request, ChannelHandlerContext ctx,
      String clientAddress, boolean keepAlive, Runnable onDone) {
    this.adapter = adapter;
    this.ctx = ctx;
    this.head = request.method().equals(HttpMethod.HEAD);
    this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
    this.keepAlive = keepAlive;
    this.onDone = onDone;
    String[] target = HttpRequest.splitTarget(request.uri());
    byte[] body = ByteBufUtil.getBytes(request.content());
    this.call = adapter.newCall(new HttpRequest(request.method().name(), target[0],
        target[1], HttpRequest.Headers.of(request.headers()), body, clientAddress,
        request.headers().get(io.netty.handler.codec.http.HttpHeaderNames.HOST),
        io.meshgate.gateway.netty.Channels.clientIdentity(ctx.channel())), this);
  }

  /** Runs the exchange. */
  public void start() {
    call.start();
  }

  /** Answers 413 (the aggregator found the body too large). */
  public void startTooLarge() {
    call.tooLarge(adapter.maxRequestBodyBytes());
  }

  /** The connection can take more output. */
  public void onWritable() {
    call.onWritable();
  }

  /** The connection closed. */
  public void cancel(String reason) {
    call.cancel(reason);
  }

  @Override
  public EventExecutor executor() {
    return ctx.executor();
  }

  @Override
  public void respond(HttpResponseStatus status, HttpHeaders headers, ByteBuf body) {
    FullHttpResponse response;
    if (head) {
      body.release();
      response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status);
    } else {
      response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
    }
    response.headers().add(headers);
    HttpUtil.setKeepAlive(response, keepAlive);
    done(ctx.writeAndFlush(response));
  }

  @Override
  public void startStream(HttpResponseStatus status, HttpHeaders headers) {
    HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
    response.headers().add(headers);
    chunked = !http10;
    if (chunked) {
      HttpUtil.setTransferEncodingChunked(response, true);
      HttpUtil.setKeepAlive(response, keepAlive);
    } else {
      HttpUtil.setKeepAlive(response, false);
    }
    ctx.writeAndFlush(response);
  }

  @Override
  public void sendChunk(ByteBuf chunk) {
    if (head) {
      chunk.release();
      return;
    }
    ctx.writeAndFlush(new DefaultHttpContent(chunk));
  }

  @Override
  public void endStream(HttpHeaders trailers) {
    LastHttpContent last = new DefaultLastHttpContent();
    if (chunked) {
      last.trailingHeaders().add(trailers);
    }
    ChannelFuture written = ctx.writeAndFlush(last);
    if (!chunked) {
      written.addListener(ChannelFutureListener.CLOSE);
    }
    done(written);
  }

  @Override
  public boolean isWritable() {
    return ctx.channel().isWritable();
  }

  private void done(ChannelFuture written) {
    written.addListener(f -> onDone.run());
    if (!keepAlive) {
      written.addListener(ChannelFutureListener.CLOSE);
    }
  }
}
